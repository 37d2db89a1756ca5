"""Enforce mode's script edit: set `--tensor-parallel-size`, `--quantization` and the model on the
vLLM command the parser recognised, and nothing else.

An edit is made only when the parse was unambiguous (one literal server command, not inside a
heredoc, a function or a quoted string, no flags hidden in variables); everything outside the
edited words is kept byte for byte, and the result is parsed again to check that vLLM will now see
the new values. Otherwise the answer is None with the reason, and the daemon degrades to a
suggestion (DECISIONS.md §5)."""

from __future__ import annotations

import shlex

from pydantic import BaseModel, ConfigDict

from omnipilot.daemon.jobscript.parse import ParsedJob
from omnipilot.daemon.jobscript.sbatch_header import parse_sbatch
from omnipilot.daemon.jobscript.scan import in_function, scan
from omnipilot.daemon.jobscript.variables import ScriptVars
from omnipilot.daemon.jobscript.vllm_command import VllmCommand, build_command

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
