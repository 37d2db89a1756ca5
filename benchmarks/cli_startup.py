"""How long `omnipilot` takes to start for the commands people type often (issue goal: ≤ 0.3 s for
`--help`, `status`, `explain` and `script check`). Each command runs N times as a fresh process; the
median and worst wall times are printed, then one JSON line.

    .venv/bin/python benchmarks/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 0.3
SCRIPT = "#!/bin/bash\n#SBATCH --gres=gpu:a100:2\nvllm serve Qwen/Qwen2.5-7B-Instruct -tp 2\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    exe = str(Path(sys.executable).parent / "omnipilot")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "job.sbatch"
        script.write_text(SCRIPT)
        commands = {
            "--help": ["--help"],
            "--version": ["--version"],
            "status": ["status"],  # no daemon here: the time to find that out
            "explain": ["explain", "--token", "nosuchtoken"],
            "script check": ["script", "check", str(script)],
            "advise": ["advise", "--model", "Qwen/Qwen2.5-7B-Instruct", "--gpu", "h100", "--json"],
        }
        results: dict[str, dict[str, float]] = {}
        for name, argv in commands.items():
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                subprocess.run([exe, *argv], cwd=tmp, capture_output=True, check=False)
                times.append(time.perf_counter() - t0)
            results[name] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}
            goal = "" if name == "advise" else ("  (goal reached)" if statistics.median(times) <= GOAL_S else "  (goal NOT reached)")
            print(f"{name:<14} median {statistics.median(times):.3f} s, worst {max(times):.3f} s{goal}")
    fast = ("--help", "status", "explain", "script check")
    summary = {
        "runs": args.runs,
        "results": results,
        "goal_s": GOAL_S,
        "goal_reached": all(results[c]["median_s"] <= GOAL_S for c in fast),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
