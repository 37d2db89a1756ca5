"""Find the commands of a batch script that mention vLLM, and what each one starts.

Only the lines that mention vLLM are read as shell (with their continuations), which keeps a
64 KiB script cheap: heredoc bodies are located by one literal search, and whether the command
kept sits in a function is checked backwards from it, so that a command inside either is known to
be there (rewriting it would not be safe)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omnipilot.daemon.launch_wrappers import Launch, classify
from omnipilot.daemon.script_vars import ScriptVars
from omnipilot.daemon.shell_words import Token, Word, line_start, read_command_line, split_commands

# Commands name vLLM in lower case (the `vllm` binary, `vllm.entrypoints...`, `vllm/vllm-openai`);
# a literal pattern is searched at C speed, which an alternation or IGNORECASE is not.
_MENTION = re.compile("vllm")
_HEREDOC_MARK = re.compile("<<")
_HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_FUNCTION = re.compile(
    r"^[ \t]*(?:function[ \t]+([A-Za-z_][\w:.-]*)[ \t]*(?:\(\))?|([A-Za-z_][\w:.-]*)[ \t]*\(\))[ \t]*\{?",
    re.M,
)
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
    in_function: bool = False  # set by the caller with in_function() for the command it keeps
    in_string: bool = False
    line_start: int = 0  # offset of its logical line
    line_end: int = 0


@dataclass
class ScanResult:
    found: list[Found] = field(default_factory=list)
    comment_mentions: int = 0
    code_mentions: int = 0
    truncated: bool = False
    heredocs: list[Region] = field(default_factory=list)


def heredoc_regions(text: str) -> list[Region]:
    """Bodies of heredocs: from the line after `<<EOF` to the line holding only the delimiter."""
    regions: list[Region] = []
    pos = 0
    for hit in _HEREDOC_MARK.finditer(text):
        m = _HEREDOC.match(text, hit.start())
        if m is None or hit.start() < pos or (hit.start() > 0 and text[hit.start() - 1] in "<$("):
            continue  # `<<<`, `$((1<<2))`, or a `<<` inside an earlier heredoc body
        body = text.find("\n", m.end())
        if body < 0:
            break
        body += 1
        end = _delimiter_line(text, m.group(3), body)
        head = text[text.rfind("\n", 0, m.start()) + 1 : body]
        regions.append(Region(body, end, shell=_PY_HEREDOC.search(head) is None))
        pos = text.find("\n", end) + 1 if end < len(text) else len(text)
        if len(regions) >= MAX_LINES:
            regions.append(Region(pos, len(text), shell=False))  # too many: treat the rest as data
            break
    return regions


def _delimiter_line(text: str, delim: str, pos: int) -> int:
    """Offset of the line that holds only `delim` (leading tabs/blanks allowed), else the end."""
    k = pos
    for _ in range(4 * MAX_LINES):
        k = text.find(delim, k)
        if k < 0:
            break
        start = text.rfind("\n", 0, k) + 1
        stop = text.find("\n", k)
        stop = len(text) if stop < 0 else stop
        if start >= pos and text[start:stop].strip(" \t\r") == delim:
            return start
        k += len(delim)
    return len(text)


def _inside(regions: list[Region], pos: int) -> Region | None:
    for r in regions:
        if r.start <= pos < r.end:
            return r
        if r.start > pos:
            break  # regions are in text order
    return None


def in_function(text: str, pos: int) -> bool:
    """Whether `pos` lies inside a shell function body (`name() {` or `function name {` before it,
    with no closing `}` line in between). Searched backwards, only for the command found."""
    for marker in ("()", "function"):
        k = pos
        for _ in range(16):
            k = text.rfind(marker, 0, k)
            if k < 0:
                break
            line_from = text.rfind("\n", 0, k) + 1
            line_to = text.find("\n", k)
            line = text[line_from : line_to if line_to >= 0 else len(text)]
            if _FUNCTION.match(line) and text.find("\n}", line_from, pos) < 0:
                return True
    return False


def scan(text: str, env: ScriptVars) -> ScanResult:
    """Every command in `text` that mentions vLLM, classified."""
    result = ScanResult(heredocs=heredoc_regions(text))
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
        result.code_mentions += 1
        if lines > MAX_LINES:
            result.truncated = True
            break
        tokens, covered = read_command_line(text, start)
        covered = max(covered, _eol(text, m.start()))
        context = Found(Launch("none", ""), heredoc is not None)
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
