"""What the place a vLLM command stands in says about it: why rewriting it in the script would not
be safe (ambiguities), and what the shell would do that the command's own words hide (notes for
the user). Enforce rewrites only a command with no ambiguity (DECISIONS.md §5)."""

from __future__ import annotations

import re

from omnipilot.daemon.jobscript.scan import Found
from omnipilot.daemon.jobscript.shell_blocks import enclosing_loop
from omnipilot.daemon.jobscript.vllm_command import VllmCommand

_COMMENT = re.compile(r"(?:^|[ \t])#")
_BLANK_AFTER_BACKSLASH = re.compile(r"\\[ \t]+\r?$")
_GGUF = re.compile(r"(?i)\.gguf$")


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def ambiguities(text: str, servers: list[Found], cmd: VllmCommand) -> list[str]:
    """Reasons the recognised command (the first of `servers`) cannot be rewritten in place."""
    first = servers[0]
    out: list[str] = []
    if len(servers) > 1:
        lines = ", ".join(dict.fromkeys(str(_line(text, f.call or f.line_start)) for f in servers))
        out.append(f"{len(servers)} vLLM server commands (lines {lines}); advice is for the first")
    if cmd.in_heredoc:
        out.append("the vLLM command is inside a heredoc")
    if first.call_line is not None:
        out.append(
            f"the vLLM command is inside a shell function; its arguments come from the call at line {first.call_line}"
        )
    elif cmd.in_function:
        out.append("the vLLM command is inside a shell function")
    if first.via == "eval":
        out.append("the vLLM command is run through eval")
    elif cmd.in_string:
        out.append("the vLLM command is inside a quoted string (bash -c '...')")
    entry = first.launch.entry
    assembled = entry is not None and entry.split  # `$CMD`, "${CMD[@]}": even `serve` is not on the line
    if assembled and entry is not None:
        out.append(f"the vLLM command is assembled in a variable ({entry.raw})")
    loop = enclosing_loop(text, first.call if first.call is not None else first.line_start)
    if loop is not None:
        out.append(f"the vLLM command is inside a loop (line {loop}): it may start several servers")
    if cmd.hidden_args and not (assembled and entry is not None and cmd.hidden_args == [entry.raw]):
        out.append(f"flags may come from variables: {' '.join(cmd.hidden_args)}")
    for name in ("model", "tensor-parallel-size", "quantization"):
        use = cmd.flags.get(name)
        if use is not None and use.count > 1:
            out.append(f"--{name} is given {use.count} times")
    if (cmd.dp or 1) > 1:
        out.append(
            f"--data-parallel-size {cmd.dp}: the job runs {cmd.dp} replicas, each on "
            f"{(cmd.tp or 1) * (cmd.pp or 1)} GPU(s); the advice is for one replica"
        )
    if cmd.model and _GGUF.search(cmd.model):
        out.append("the model is a GGUF file, whose quantization is not one of the arms")
    return list(dict.fromkeys(out))


def cut_short(text: str, found: Found) -> str | None:
    """A comment line inside a backslash-continued command ends it (`\\` cannot continue a comment),
    and so does a blank after the final `\\`: the flags on the lines after it never reach vLLM.
    Said when the next line looks like more flags."""
    end = found.line_end
    last = text[text.rfind("\n", 0, end) + 1 : end]
    if found.in_string or end >= len(text):
        return None
    if _COMMENT.search(last) is not None:
        why = "a comment inside the continued vLLM command ends it there"
    elif _BLANK_AFTER_BACKSLASH.search(last) is not None:
        why = "a blank after the final `\\` ends the vLLM command there"
    else:
        return None
    nxt_end = text.find("\n", end + 1)
    nxt = text[end + 1 : len(text) if nxt_end < 0 else nxt_end].strip()
    if not nxt.startswith("-"):
        return None
    flags = " ".join(nxt.rstrip("\\").split()[:2])
    return f"line {_line(text, end)}: {why}, so the flags after it ({flags} ...) never reach vLLM"
