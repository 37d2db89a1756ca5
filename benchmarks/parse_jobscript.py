"""Time `parse_job` the way the daemon's request path runs it: the corpus scripts, a ~64 KiB
script (a real header and vLLM command with a long staging section in between), and hostile
inputs. Prints p50/p99 per case in ms; the last line is one JSON object.

    .venv/bin/python benchmarks/parse_jobscript.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from omnipilot.advisor.catalog import Catalog
from omnipilot.daemon.jobscript import parse_job

SCRIPTS = Path(__file__).resolve().parent.parent / "tests" / "daemon" / "scripts"


def big_script() -> str:
    body = (SCRIPTS / "04_srun_continuations.sh").read_text()
    lines = []
    for i in range(1500):
        lines.append(f"cp /data/shards/part_{i:05d}.jsonl $TMPDIR/in/  # stage shard {i} of the eval set\n")
        if i % 50 == 0:
            lines.append(f'echo "staged {i} shards at $(date)" >> $TMPDIR/stage.log\n')
    script = body.replace("srun --ntasks", "".join(lines) + "srun --ntasks", 1)
    return script[: 65536 + len(body)]


def hostile() -> dict[str, str]:
    return {
        "quotes": "vllm " + "\"'" * 30000,
        "cmd_subst": "vllm serve " + "$(" * 20000,
        "tags": "#OMNIPILOT " + "a=" * 30000,
        "continuations": "vllm serve x " + "\\\n" * 30000,
        "mentions": "vllm\n" * 13000,
        "braces": "X=${" * 16000 + "\nvllm serve $X\n",
        "heredocs": "cat <<EOF\n" * 6500 + "vllm serve x\n",
    }


def timings(cat: Catalog, script: str, repeat: int) -> tuple[float, float]:
    parse_job(script, None, cat)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        parse_job(script, None, cat)
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    cat = Catalog.load()
    corpus = [p.read_text() for p in sorted(SCRIPTS.glob("*.sh"))]
    per_script = [timings(cat, s, max(args.repeat // 10, 10))[0] for s in corpus]
    big = big_script()
    big_p50, big_p99 = timings(cat, big, args.repeat)
    print(f"corpus: {len(corpus)} scripts, median of per-script p50 {statistics.median(per_script):.3f} ms, "
          f"max p50 {max(per_script):.3f} ms")  # fmt: skip
    print(f"64 KiB script ({len(big)} bytes): p50 {big_p50:.3f} ms  p99 {big_p99:.3f} ms")
    worst = 0.0
    for name, text in hostile().items():
        p50, _ = timings(cat, text, 5)
        worst = max(worst, p50)
        print(f"hostile {name:<14} ({len(text)} bytes): p50 {p50:.2f} ms")
    print(json.dumps({
        "corpus_p50_ms": round(statistics.median(per_script), 3),
        "big_bytes": len(big), "big_p50_ms": round(big_p50, 3), "big_p99_ms": round(big_p99, 3),
        "hostile_worst_p50_ms": round(worst, 2), "goal_big_p50_ms": 1.0, "goal_met": big_p50 < 1.0,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
