"""Time `parse_job` the way the daemon's request path runs it: the corpus scripts, a ~64 KiB
script (a real header and vLLM command with a long staging section in between), and hostile
inputs. Prints p50/p99 per case in ms, and how many corpus scripts parse to what
tests/daemon/jobscript/scripts/expected.json says (with the first mismatch of each that does not); the last
line is one JSON object.

    .venv/bin/python benchmarks/parse_jobscript.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import ParsedJob, parse_job

SCRIPTS = Path(__file__).resolve().parent.parent / "tests" / "daemon" / "jobscript" / "scripts"


def mismatch(job: ParsedJob, want: dict[str, object]) -> str | None:
    """The first expectation `job` misses, in the words of tests/daemon/jobscript/test_parse.py."""
    for key, value in want.items():
        if key == "reason_has":
            ok = job.not_serving_reason is not None and str(value) in job.not_serving_reason
        elif key == "hint":
            ok = (job.model_unresolved_hint is not None) is value
        elif key == "safe":
            ok = (not job.ambiguities) is value
        elif key == "tag_error_count":
            ok = len(job.tag_errors) == value
        elif key == "unresolved_has":
            ok = any(str(value) in u for u in job.unresolved)
        elif key == "ambiguity_has":
            ok = any(str(value) in a for a in job.ambiguities)
        elif key == "line_span":
            ok = list(job.line_span or ()) == value
        else:
            ok = getattr(job, key, "<no such field>") == value
        if not ok:
            return f"{key}: want {value!r}"
    return None


def corpus_score(cat: Catalog) -> tuple[int, int, dict[str, str]]:
    expected = json.loads((SCRIPTS / "expected.json").read_text())
    misses: dict[str, str] = {}
    for name, want in sorted(expected.items()):
        if name.startswith("_"):
            continue
        miss = mismatch(parse_job((SCRIPTS / name).read_bytes().decode(), None, cat), want)
        if miss is not None:
            misses[name] = miss
    total = sum(1 for k in expected if not k.startswith("_"))
    return total - len(misses), total, misses


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
        "cmd_vars": "".join(f'C{i}="vllm serve m $C{i - 1}"\n' for i in range(2000)) + "eval $C1999\n",
        "functions": "".join(f'f{i}() {{ vllm serve "$1"; }}\nf{i} m\n' for i in range(2000)),
        "call_args": 'f() { vllm serve "$@"; }\nf ' + '"$@" ' * 10000 + "\n",
        "array": "CMD=(" + "vllm " * 12000 + ")\n",
        "table": "declare -A M=(" + "[k]=v " * 10000 + ")\nvllm serve ${M[$K]}\n",
        "elements": "".join(f"M[k{i}]=v{i}\n" for i in range(5000)) + "vllm serve ${M[k1]}\n",
        "branches": "if a; then\n" + "X=1\nelif b; then\n" * 3000 + "X=2\nfi\nvllm serve $X\n",
        "binds": "apptainer exec " + "-B /a:/b " * 4000 + "i.sif vllm serve /b/m\n",
        "wrappers": "t run -- " * 6000 + "vllm serve m\n",
        # issue 13: 1,000 server commands cost 12.8 ms before scan.MAX_SERVERS ("too many launches")
        "servers": "vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2\n" * 1000,
        "srun_servers": "srun --gres=gpu:2 vllm serve m -tp 2 &\n" * 1000,
        "echo_lines": "echo starting vllm now\n" * 3000,
        "comment_lines": "# vllm\n" * 13000,
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
    correct, total, misses = corpus_score(cat)
    print(f"corpus correctness: {correct}/{total} scripts parse as expected.json says")
    for name, miss in misses.items():
        print(f"  {name}: {miss}")
    corpus = [p.read_bytes().decode() for p in sorted(SCRIPTS.glob("*.sh"))]
    corpus += [p.read_bytes().decode() for p in sorted((SCRIPTS / "corpus2").glob("*.sh"))]
    per_script = [timings(cat, s, max(args.repeat // 10, 10))[0] for s in corpus]
    big = big_script()
    big_p50, big_p99 = timings(cat, big, args.repeat)
    print(f"corpus: {len(corpus)} scripts, median of per-script p50 {statistics.median(per_script):.3f} ms, "
          f"max p50 {max(per_script):.3f} ms")  # fmt: skip
    print(f"64 KiB script ({len(big)} bytes): p50 {big_p50:.3f} ms  p99 {big_p99:.3f} ms")
    worst = 0.0
    for name, text in hostile().items():
        p50, _ = timings(cat, text[:65536], 5)  # the hook sends at most 64 KiB
        worst = max(worst, p50)
        print(f"hostile {name:<14} ({len(text)} bytes): p50 {p50:.2f} ms")
    print(json.dumps({
        "corpus_correct": correct, "corpus_total": total, "corpus_p50_ms": round(statistics.median(per_script), 3),
        "big_bytes": len(big), "big_p50_ms": round(big_p50, 3), "big_p99_ms": round(big_p99, 3),
        "hostile_worst_p50_ms": round(worst, 2), "goal_big_p50_ms": 1.0, "goal_met": big_p50 < 1.0,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
