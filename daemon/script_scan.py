"""Find the commands of a batch script that mention vLLM, and what each one starts.

Only the lines that mention vLLM are read as shell (with their continuations), which keeps a
64 KiB script cheap; heredoc bodies and function bodies are located by one regex pass each so that
a command found inside them is known to be there (rewriting it would not be safe)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omnipilot.daemon.launch_wrappers import Launch, classify
from omnipilot.daemon.script_vars import ScriptVars
from omnipilot.daemon.shell_words import Token, Word, line_start, read_command_line, split_commands

_MENTION = re.compile(r"vllm|api_server", re.I)
_HEREDOC = re.compile(r"(?<![<\w])<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2(?!<)")
_FUNCTION = re.compile(
    r"^[ \t]*(?:function[ \t]+([A-Za-z_][\w:.-]*)[ \t]*(?:\(\))?|([A-Za-z_][\w:.-]*)[ \t]*\(\))[ \t]*\{?",
    re.M,
)
_FUNCTION_END = re.compile(r"^\}", re.M)
_PY_HEREDOC = re.compile(r"\bpython[0-9.]*\b|\.py\b|\.ya?ml\b|\.json\b|\.toml\b")
MAX_LINES = 256  # logical lines read per parse: a hostile script cannot make the daemon slow


@dataclass(frozen=True, slots=True)
class Region:
    start: int
    end: int
    shell: bool = True  # False for a heredoc that feeds Python or writes a data file


@dataclass
class Found:
    """A recognised command with the context it stands in."""

    launch: Launch
    in_heredoc: bool = False
    in_function: bool = False
    in_string: bool = False
    line_start: int = 0  # offset of its logical line
    line_end: int = 0


@dataclass
class ScanResult:
    found: list[Found] = field(default_factory=list)
    comment_mentions: int = 0
    truncated: bool = False
    heredocs: list[Region] = field(default_factory=list)
    functions: list[Region] = field(default_factory=list)


def heredoc_regions(text: str) -> list[Region]:
    """Bodies of heredocs: from the line after `<<EOF` to the line holding only the delimiter."""
    regions: list[Region] = []
    pos = 0
    for m in _HEREDOC.finditer(text):
        if m.start() < pos:
            continue  # a `<<` inside an earlier heredoc body is text, not a heredoc
        body = text.find("\n", m.end())
        if body < 0:
            break
        body += 1
        end_re = re.compile(r"^[ \t]*" + re.escape(m.group(3)) + r"[ \t]*\r?$", re.M)
        stop = end_re.search(text, body)
        end = stop.start() if stop else len(text)
        head = text[text.rfind("\n", 0, m.start()) + 1 : body]
        regions.append(Region(body, end, shell=_PY_HEREDOC.search(head) is None))
        pos = stop.end() if stop else len(text)
    return regions


def function_regions(text: str) -> list[Region]:
    regions: list[Region] = []
    for m in _FUNCTION.finditer(text):
        stop = _FUNCTION_END.search(text, m.end())
        regions.append(Region(m.start(), stop.end() if stop else len(text)))
    return regions


def _inside(regions: list[Region], pos: int) -> Region | None:
    for r in regions:
        if r.start <= pos < r.end:
            return r
    return None


def scan(text: str, env: ScriptVars) -> ScanResult:
    """Every command in `text` that mentions vLLM, classified."""
    result = ScanResult(heredocs=heredoc_regions(text), functions=function_regions(text))
    covered = 0
    lines = 0
    for m in _MENTION.finditer(text):
        if m.start() < covered:
            continue
        heredoc = _inside(result.heredocs, m.start())
        start = line_start(text, m.start())
        if heredoc is not None and not heredoc.shell:
            covered = heredoc.end
            continue
        if text[start : m.start()].lstrip().startswith("#"):
            result.comment_mentions += 1
            covered = _eol(text, m.start())
            continue
        lines += 1
        if lines > MAX_LINES:
            result.truncated = True
            break
        tokens, covered = read_command_line(text, start)
        covered = max(covered, _eol(text, m.start()))
        context = Found(Launch("none", ""), heredoc is not None, _inside(result.functions, start) is not None)
        context.line_start, context.line_end = start, covered
        _collect(tokens, env, context, result, depth=0)
    return result


def _eol(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _collect(tokens: list[Token], env: ScriptVars, context: Found, result: ScanResult, depth: int) -> None:
    for command in split_commands(tokens):
        words: list[Word] = []
        for tok in command:
            words.extend(env.expander.words(tok))
        launch = classify(words)
        if launch is None:
            continue
        if launch.kind == "subshell":
            if depth < 3 and launch.subscript and _MENTION.search(launch.subscript):
                _collect_string(launch, env, context, result, depth)
            continue
        result.found.append(
            Found(
                launch,
                context.in_heredoc,
                context.in_function,
                context.in_string or depth > 0,
                context.line_start,
                context.line_end,
            )
        )


def _collect_string(launch: Launch, env: ScriptVars, context: Found, result: ScanResult, depth: int) -> None:
    """`bash -c '...'`: read the string as a script of its own; its words have no place in the file."""
    sub = launch.subscript or ""
    base = launch.entry.start if launch.entry is not None else context.line_start
    pos = 0
    while pos < len(sub):
        tokens, end = read_command_line(sub, pos)
        shifted = [Token(t.kind, t.raw, base, base) for t in tokens]
        inner = Found(
            launch, context.in_heredoc, context.in_function, True, context.line_start, context.line_end
        )
        before = len(result.found)
        _collect(shifted, env, inner, result, depth + 1)
        for f in result.found[before:]:
            f.launch.launchers[:0] = [x for x in launch.launchers if x not in f.launch.launchers]
        pos = end + 1
