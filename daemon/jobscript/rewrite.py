"""Enforce mode's script edit: set `--tensor-parallel-size`, `--quantization` and the model on the
vLLM command the parser recognised, and nothing else.

An edit is made only when the parse was unambiguous (one literal server command, not inside a
heredoc, a function or a quoted string, no flags hidden in variables); everything outside the
edited words is kept byte for byte, and the result is parsed again to check that vLLM will now see
the new values. Otherwise the answer is None with the reason, and the daemon degrades to a
suggestion (DECISIONS.md §5)."""

from __future__ import annotations

import re
import shlex

from pydantic import BaseModel, ConfigDict

from omnipilot.daemon.jobscript.launch_wrappers import _SRUN_VALUE
from omnipilot.daemon.jobscript.parse import ParsedJob
from omnipilot.daemon.jobscript.sbatch_header import parse_sbatch
from omnipilot.daemon.jobscript.scan import in_function, scan
from omnipilot.daemon.jobscript.variables import ScriptVars
from omnipilot.daemon.jobscript.vllm_command import VllmCommand, build_command, picked_snapshot

# Values that mean "no --quantization flag": the 16-bit checkpoint as it is.
_NO_QUANT = ("", "none", "bf16")


class RewriteResult(BaseModel):
    """The rewritten script, or None and why not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    script: str | None
    reason: str
    changed: list[str] = []


Edit = tuple[int, int, str]


def rewrite_vllm(
    script: str,
    parsed: ParsedJob,
    *,
    model: str | None = None,
    tp: int | None = None,
    quantization: str | None = None,
) -> RewriteResult:
    """Rewrite the recognised vLLM command of `script` (as parsed into `parsed`) to use `model`, `tp`
    and `quantization` (each None = leave as is; quantization "none" or "bf16" removes the flag)."""
    cmd = parsed.command
    if cmd is None:
        return RewriteResult(script=None, reason="no vLLM server command was recognised in the script")
    if parsed.ambiguities:
        return RewriteResult(script=None, reason="not rewritten: " + "; ".join(parsed.ambiguities))
    if cmd.span.end > len(script) or cmd.span.start >= cmd.span.end:
        return RewriteResult(script=None, reason="not rewritten: the parse does not belong to this script")
    edits: list[Edit] = []
    changed: list[str] = []
    try:
        if tp is not None:
            _set_flag(script, cmd, "tensor-parallel-size", str(tp), edits)
            changed.append(f"--tensor-parallel-size {tp}")
        if quantization is not None:
            _set_quantization(script, cmd, quantization, edits)
            changed.append(
                f"--quantization {quantization}" if quantization not in _NO_QUANT else "no --quantization"
            )
        if model is not None:
            _set_model(script, cmd, model, edits)
            changed.append(f"model {model}")
        new = _apply(script, edits)
    except _Refused as exc:
        return RewriteResult(script=None, reason=f"not rewritten: {exc}")
    if not edits:
        return RewriteResult(script=script, reason="nothing to change")
    problem = _verify(new, model, tp, quantization)
    if problem:
        return RewriteResult(script=None, reason=f"not rewritten: {problem}")
    return RewriteResult(script=new, reason="rewrote " + ", ".join(changed), changed=changed)


class _Refused(Exception):
    """A requested edit cannot be made safely; the message says why."""


def _check(script: str, start: int, end: int, what: str) -> None:
    if not 0 <= start <= end <= len(script) or "\n" in script[start:end].replace("\\\n", ""):
        raise _Refused(f"the {what} is not where the parse says")


def _set_flag(script: str, cmd: VllmCommand, name: str, value: str, edits: list[Edit]) -> None:
    use = cmd.flags.get(name)
    if use is None:
        edits.append((cmd.insert_at, cmd.insert_at, f" --{name} {shlex.quote(value)}"))
        return
    if use.value is None:
        raise _Refused(f"--{name} has no value word to replace")
    _check(script, use.value.start, use.value.end, f"--{name} value")
    edits.append((use.value.start, use.value.end, shlex.quote(value)))


def _set_quantization(script: str, cmd: VllmCommand, quantization: str, edits: list[Edit]) -> None:
    if quantization.lower() not in _NO_QUANT:
        _set_flag(script, cmd, "quantization", quantization, edits)
        return
    use = cmd.flags.get("quantization")
    if use is None:
        return
    if use.value is None:
        raise _Refused("--quantization has no value word to remove")
    # drop the option and its value with the blanks before the option; keep line continuations
    start = use.option.start
    while start > 0 and script[start - 1] in " \t":
        start -= 1
    end = max(use.option.end, use.value.end)
    _check(script, start, end, "--quantization flag")
    edits.append((start, end, ""))


def _set_model(script: str, cmd: VllmCommand, model: str, edits: list[Edit]) -> None:
    if cmd.model_span is not None:
        span = cmd.model_span
    elif "model" in cmd.flags and cmd.flags["model"].value is not None:
        value = cmd.flags["model"].value
        assert value is not None
        span = value
    else:
        raise _Refused("the command names no model to replace")
    if picked_snapshot(cmd.model):
        # the job picks a snapshot of a cached model at run time: its name is known, which files run is not
        raise _Refused("the model is a Hugging Face cache snapshot the job picks when it runs")
    _check(script, span.start, span.end, "model")
    edits.append((span.start, span.end, shlex.quote(model)))
    if "served-model-name" not in cmd.flags:
        # clients address the server by the name it was started with: keep that name
        old = script[span.start : span.end]
        edits.append((cmd.insert_at, cmd.insert_at, f" --served-model-name {old}"))


def _apply(script: str, edits: list[Edit]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1])):
        if start < pos:
            raise _Refused("two edits overlap")
        out.append(script[pos:start])
        out.append(text)
        pos = end
    out.append(script[pos:])
    return "".join(out)


def _command_of(script: str) -> VllmCommand | None:
    sb = parse_sbatch(script)
    found = scan(script, ScriptVars(script, sb.slurm_env(), sb.gpus_per_node))
    servers = [f for f in found.found if f.launch.kind == "server"]
    if len(servers) != 1:
        return None
    f = servers[0]
    f.in_function = f.in_function or in_function(script, f.line_start)
    return build_command(f.launch, f.in_heredoc, f.in_function, f.in_string)


def _verify(new: str, model: str | None, tp: int | None, quantization: str | None) -> str | None:
    """Parse the edited script again: vLLM must see exactly the values asked for."""
    cmd = _command_of(new)
    if cmd is None:
        return "the edited script no longer has exactly one vLLM server command"
    if tp is not None and cmd.tp != tp:
        return f"after the edit vLLM would get --tensor-parallel-size {cmd.tp}, not {tp}"
    if quantization is not None:
        want = None if quantization.lower() in _NO_QUANT else quantization.lower()
        if cmd.quantization != want:
            return f"after the edit vLLM would get --quantization {cmd.quantization}, not {want}"
    if model is not None and cmd.model != model:
        return f"after the edit vLLM would get the model {cmd.model}, not {model}"
    return None


# --- srun's own GPU options ------------------------------------------------------------------------
# `srun --gres=gpu:2 vllm serve ...` asks its step for GPUs itself: after the job's request is
# rewritten, a step asking more than the job now holds fails ("Step requested gres_per_node=gpu:2
# is more than the job's gres_per_node=gpu:1"). Those options are rewritten with the job's.
_SRUN_WORD = re.compile(r"(?<![\w./$-])srun(?=[ \t])")
_GPU_OPTS = {"--gres", "--gpus", "-G", "--gpus-per-node", "--gpus-per-task", "--gpus-per-socket"}
_OPT_WORD = re.compile(r"(?:\\\n|[ \t])+")
_COUNT = re.compile(r"^(?:(?P<type>[A-Za-z][A-Za-z0-9_.\-]*):)?(?P<count>\d+)$")
_GRES_GPU = re.compile(r"^(?P<pre>gres[:/])?gpu(?::(?P<type>[A-Za-z][A-Za-z0-9_.\-]*))?(?::(?P<count>\d+))?$")


class SrunWord(BaseModel):
    model_config = ConfigDict(frozen=True)
    text: str
    start: int
    end: int


def _srun_options(script: str, at: int) -> list[SrunWord]:
    """The option words after the `srun` at `at`, up to the command it runs."""
    words: list[SrunWord] = []
    pos = at + len("srun")
    n = len(script)
    expect_value = False
    while pos < n:
        m = _OPT_WORD.match(script, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        end = pos
        while end < n and script[end] not in " \t\n;&|":
            end += 1
        text = script[pos:end]
        if not text or (not expect_value and not text.startswith("-")):
            break
        words.append(SrunWord(text=text, start=pos, end=end))
        name = text.split("=", 1)[0]
        expect_value = (
            not expect_value
            and "=" not in text
            and (name in _SRUN_VALUE or (len(name) == 2 and name in _GPU_OPTS))
        )
        if len(text) > 2 and text[1] != "-" and name[:2] in ("-G", "-n"):
            expect_value = False  # -G2, -n4
        pos = end
    return words


def _srun_uses(script: str) -> list[list[SrunWord]]:
    out = []
    for m in _SRUN_WORD.finditer(script):
        line_start = script.rfind("\n", 0, m.start()) + 1
        if script[line_start : m.start()].lstrip().startswith("#"):
            continue  # a comment, or an #SBATCH/#OMNIPILOT line
        out.append(_srun_options(script, m.start()))
    return out


def rewrite_srun_gpus(
    script: str, *, old_gpus: int, gpus: int, gres_type: str, job_tasks: int = 1,
    job_cpus: int | None = None, job_mem_mb: int | None = None,
) -> RewriteResult:  # fmt: skip
    """Give every `srun` option that asks for the job's old GPU count (or more than the new one)
    the new count, in the option's own form. The step's own CPUs and memory (`-c`, `--cpus-per-gpu`,
    `--mem`, `--mem-per-gpu`, `--mem-per-cpu`) must fit the rewritten job (`job_cpus`, `job_mem_mb`
    per node, when known): `--cpus-per-gpu` is lowered to fit, the rest refuse. Refused (script
    None) for values in variables, GPUs per socket, or a step whose GPUs cannot be split over its
    tasks."""
    edits: list[Edit] = []
    changed: list[str] = []
    try:
        for words in _srun_uses(script):
            tasks = job_tasks
            for k, w in enumerate(words):
                name, eq, value = w.text.partition("=")
                if name in ("-n", "--ntasks") and not eq and k + 1 < len(words):
                    tasks = int(words[k + 1].text) if words[k + 1].text.isdigit() else 0
                elif (name == "--ntasks" and eq) or (name.startswith("-n") and len(name) > 2):
                    v = value if eq else name[2:]
                    tasks = int(v) if v.isdigit() else 0
            step_gpus = gpus  # a step naming no GPUs gets the job's (the rewritten SLURM_GPUS* say so)
            for k in range(len(words)):
                opt, value_word = _gpu_option(words, k)
                if opt is None or value_word is None:
                    continue
                new = _new_srun_value(opt, value_word.text, old_gpus, gpus, gres_type, tasks)
                if new is not None:
                    edits.append((value_word.start, value_word.end, new))
                    changed.append(f"srun {opt} {new.split('=', 1)[-1]}")
                step_gpus = _step_gpus(opt, new if new is not None else value_word.text, tasks, gpus)
            edits.extend(_fit_step(words, step_gpus, tasks, job_cpus, job_mem_mb, changed))
        new_script = _apply(script, edits)
    except _Refused as exc:
        return RewriteResult(script=None, reason=f"srun not rewritten: {exc}")
    if not edits:
        return RewriteResult(script=script, reason="no srun GPU option to change")
    return RewriteResult(script=new_script, reason="rewrote " + ", ".join(changed), changed=changed)


_STEP_OPTS = {"-c": "cpus", "--cpus-per-task": "cpus", "--cpus-per-gpu": "cpus_per_gpu",
              "--mem": "mem", "--mem-per-gpu": "mem_per_gpu", "--mem-per-cpu": "mem_per_cpu"}  # fmt: skip
_SHOWN = {"cpus": "-c", "cpus_per_gpu": "--cpus-per-gpu", "mem": "--mem", "mem_per_gpu": "--mem-per-gpu",
          "mem_per_cpu": "--mem-per-cpu"}  # fmt: skip
_MEM = re.compile(r"^(?P<n>\d+)(?P<unit>[KMGT]?)B?$", re.IGNORECASE)


def _step_gpus(opt: str, value: str, tasks: int, default: int) -> int:
    """The GPUs a step's own GPU option asks for, in all."""
    if opt == "--gres":
        m = next((_GRES_GPU.match(i) for i in value.split(",") if _GRES_GPU.match(i)), None)
        return int(m.group("count") or 1) if m else default
    m = _COUNT.match(value)
    if m is None:
        return default
    return int(m.group("count")) * (max(tasks, 1) if opt == "--gpus-per-task" else 1)


def _step_options(words: list[SrunWord]) -> dict[str, SrunWord]:
    """The step's CPU and memory options: kind → the word holding the value."""
    out: dict[str, SrunWord] = {}
    for k, w in enumerate(words):
        name, eq, value = w.text.partition("=")
        if name in _STEP_OPTS and name.startswith("--") and eq:
            out[_STEP_OPTS[name]] = SrunWord(text=value, start=w.start + len(name) + 1, end=w.end)
        elif name in _STEP_OPTS and not eq and k + 1 < len(words):
            out[_STEP_OPTS[name]] = words[k + 1]
        elif w.text.startswith("-c") and not w.text.startswith("--") and len(w.text) > 2:
            v = w.text[2:].lstrip("=")
            out["cpus"] = SrunWord(text=v, start=w.end - len(v), end=w.end)
    return out


def _mem_mb(text: str) -> int:
    m = _MEM.match(text)
    if m is None:
        raise _Refused(f"srun memory {text}: not a literal size")
    scale = {"": 1, "M": 1, "G": 1024, "T": 1024 * 1024}.get(m.group("unit").upper())
    return int(m.group("n")) // 1024 if scale is None else int(m.group("n")) * scale


def _fit_step(
    words: list[SrunWord], step_gpus: int, tasks: int, job_cpus: int | None, job_mem_mb: int | None,
    changed: list[str],
) -> list[Edit]:  # fmt: skip
    """Edits that keep a step's own CPUs and memory within the rewritten job (see rewrite_srun_gpus)."""
    opts = _step_options(words)
    for kind, w in opts.items():
        if kind.startswith("mem"):
            _mem_mb(w.text)  # literal sizes only
        elif not w.text.isdigit():
            raise _Refused(f"srun {_SHOWN[kind]} {w.text}: the value is not literal")
    edits: list[Edit] = []
    cpus: int | None = None
    if "cpus_per_gpu" in opts:
        per = int(opts["cpus_per_gpu"].text)
        if job_cpus is not None and per * step_gpus > job_cpus:
            if job_cpus < step_gpus:
                raise _Refused(f"the step's {step_gpus} GPUs need {step_gpus} CPUs; the job has {job_cpus}")
            per = job_cpus // step_gpus
            w = opts["cpus_per_gpu"]
            edits.append((w.start, w.end, str(per)))
            changed.append(f"srun --cpus-per-gpu {w.text} -> {per} (the job has {job_cpus} CPUs for {step_gpus} GPUs)")
        cpus = per * step_gpus
    if "cpus" in opts:
        cpus = int(opts["cpus"].text) * max(tasks, 1)
        if tasks <= 0:
            raise _Refused("srun -c with a task count that is not literal")
        if job_cpus is not None and cpus > job_cpus:
            raise _Refused(f"srun -c {opts['cpus'].text} x {tasks} tasks needs {cpus} CPUs; the job has {job_cpus}")
    if job_mem_mb is None:
        return edits
    for kind in ("mem", "mem_per_gpu", "mem_per_cpu"):
        if kind not in opts:
            continue
        value = _mem_mb(opts[kind].text)
        total = (
            (value or job_mem_mb)  # --mem=0: all the job has
            if kind == "mem"
            else value * step_gpus
            if kind == "mem_per_gpu"
            else value * (cpus or max(tasks, 1))
        )
        if total > job_mem_mb:
            raise _Refused(
                f"srun {_SHOWN[kind]} {opts[kind].text} needs {total} MB; the rewritten job has {job_mem_mb} MB"
            )
    return edits


def _gpu_option(words: list[SrunWord], k: int) -> tuple[str | None, SrunWord | None]:
    """(option name, the word span holding its value) when words[k] starts a GPU option."""
    w = words[k]
    name, eq, value = w.text.partition("=")
    if name in _GPU_OPTS and name.startswith("--"):
        if eq:
            return name, SrunWord(text=value, start=w.start + len(name) + 1, end=w.end)
        return name, words[k + 1] if k + 1 < len(words) else None
    if w.text == "-G":
        return "-G", words[k + 1] if k + 1 < len(words) else None
    if w.text.startswith("-G") and not w.text.startswith("--"):
        return "-G", SrunWord(
            text=w.text[2:].lstrip("="), start=w.end - len(w.text[2:].lstrip("=")), end=w.end
        )
    return None, None


def _new_srun_value(opt: str, value: str, old_gpus: int, gpus: int, gres_type: str, tasks: int) -> str | None:
    if any(c in value for c in "$`\"'"):
        raise _Refused(f"srun {opt} {value}: the value is not literal")
    if opt == "--gpus-per-socket":
        raise _Refused("srun --gpus-per-socket is not rewritten")
    if opt == "--gres":
        items = value.split(",")
        for i, item in enumerate(items):
            m = _GRES_GPU.match(item)
            if m is None:
                continue
            count = int(m.group("count") or 1)
            if count != old_gpus and count <= gpus:
                return None
            typ = f":{gres_type}" if m.group("type") else ""
            items[i] = f"{m.group('pre') or ''}gpu{typ}:{gpus}"
            return ",".join(items)
        return None
    m = _COUNT.match(value)
    if m is None:
        raise _Refused(f"srun {opt} {value}: not a [type:]count")
    count = int(m.group("count"))
    old, new = old_gpus, gpus
    if opt == "--gpus-per-task":
        if tasks <= 0 or old_gpus % tasks or gpus % tasks:
            raise _Refused(f"srun {opt} {value}: {gpus} GPUs cannot be split over the step's tasks")
        old, new = old_gpus // tasks, gpus // tasks
    if count != old and count <= new:
        return None  # a step using part of the GPUs, which the new request still holds
    return f"{gres_type}:{new}" if m.group("type") else str(new)
