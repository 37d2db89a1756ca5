"""Find the commands of a batch script that mention vLLM, and what each one starts.

Only the lines that mention vLLM are read as shell (with their continuations), which keeps a
64 KiB script cheap: heredoc bodies are located by one literal search. A command assembled in a
variable (`CMD="vllm serve ..."; eval $CMD`, `CMD=(vllm serve ...); "${CMD[@]}"`,
`VLLM=/opt/venv/bin/vllm; $VLLM serve ...`) is followed from the assignment to the lines that use
the variable; a server command inside a shell function is read once per literal call, with the
call's arguments as `$1`...; `bash -c '...'` and `eval` strings are read as scripts of their own.
Each of these is marked, since rewriting such a command in place would not be safe."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omnipilot.daemon.jobscript.launch_wrappers import Bind, Launch, classify, parse_binds, to_host
from omnipilot.daemon.jobscript.shell_blocks import MAX_CALLS, calls, enclosing_function
from omnipilot.daemon.jobscript.shell_words import (
    Expander,
    Token,
    Word,
    line_start,
    read_command_line,
    split_commands,
)
from omnipilot.daemon.jobscript.variables import ScriptVars

_BIND_ENV = ("APPTAINER_BIND", "SINGULARITY_BIND")

# Commands name vLLM in lower case (the `vllm` binary, `vllm.entrypoints...`, `vllm/vllm-openai`);
# a literal pattern is searched at C speed, which an alternation or IGNORECASE is not.
_MENTION = re.compile("vllm")
_HEREDOC_MARK = re.compile("<<")
_HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_.-]*)\2")
_HOLDER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\+?=")
_DECLARE = {"export", "local", "declare", "typeset", "readonly"}
_PY_HEREDOC = re.compile(r"\bpython[0-9.]*\b|\.py\b|\.ya?ml\b|\.json\b|\.toml\b")
MAX_LINES = 256  # heredocs located per parse (each a literal search, cheap)
# Logical lines read as shell per parse, all paths together (mentions, variable uses): reading one
# costs ~20-40 us, so 64 keep any script near 2 ms; the corpus's scripts read at most 4.
MAX_READ = 64
# More vLLM server commands than this and the script is not read for one: which of them the job's
# GPUs are for cannot be told, and reading them all would cost ~35 us each (1,000 cost 12.8 ms).
# The job is reported as too many launches, to be tagged (`#OMNIPILOT model=...`) for advice.
MAX_SERVERS = 16
# Lines that mention vLLM looked at in all, comments included (~0.7 us each): 13,000 `# vllm` lines
# cost 9 ms before this bound.
MAX_MENTIONS = 1024
MAX_HOLDERS = 16  # variables holding (part of) a vLLM command followed to where they are used
MAX_USES = 32  # uses of one such variable read


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
    in_string: bool = False  # read from a `bash -c` or `eval` string
    line_start: int = 0  # offset of its logical line
    line_end: int = 0
    via: str | None = None  # "eval" or "bash -c" when read from such a string
    call: int | None = None  # offset of the function call whose arguments were used
    call_line: int | None = None


@dataclass
class ScanResult:
    found: list[Found] = field(default_factory=list)
    comment_mentions: int = 0
    code_mentions: int = 0
    truncated: bool = False  # more lines mention vLLM than are read: only the first ones were
    too_many_servers: bool = False  # more than MAX_SERVERS server commands: none is taken
    heredocs: list[Region] = field(default_factory=list)
    holders: dict[str, int] = field(default_factory=dict)  # variable -> offset of its assignment
    lines_read: set[int] = field(default_factory=set)


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
    """Whether `pos` (a command's line start) lies inside a shell function body."""
    return enclosing_function(text, pos) is not None or enclosing_function(text, _eol(text, pos)) is not None


def scan(text: str, env: ScriptVars) -> ScanResult:
    """Every command in `text` that mentions vLLM, directly or through a variable, classified."""
    result = ScanResult(heredocs=heredoc_regions(text))
    covered = 0
    visits = 0
    while (m := _MENTION.search(text, covered)) is not None:
        visits += 1
        if visits > MAX_MENTIONS:
            result.truncated = True
            break
        heredoc = _inside(result.heredocs, m.start())
        start = line_start(text, m.start())
        if heredoc is not None and not heredoc.shell:
            covered = heredoc.end
            continue
        if text[start : m.start()].lstrip().startswith("#"):
            result.comment_mentions += 1
            covered = _eol(text, m.start())
            continue
        result.code_mentions += 1
        if len(result.lines_read) >= MAX_READ:
            result.truncated = True
            break
        covered = max(
            _read_line(text, start, env.expander, result, heredoc is not None), _eol(text, m.start())
        )
        if _servers(result) > MAX_SERVERS:
            result.too_many_servers = True
            return result
    _follow_holders(text, env, result)
    if _servers(result) > MAX_SERVERS:
        result.too_many_servers = True
        return result
    _follow_calls(text, env, result)
    result.found.sort(key=lambda f: f.line_start)
    return result


def _servers(result: ScanResult) -> int:
    return sum(1 for f in result.found if f.launch.kind == "server")


def _read_line(text: str, start: int, expander: Expander, result: ScanResult, in_heredoc: bool) -> int:
    """Read the logical line at `start` and collect what it starts; returns where it ends."""
    result.lines_read.add(start)
    tokens, end = read_command_line(text, start)
    context = Found(Launch("none", ""), in_heredoc)
    context.line_start, context.line_end = start, end
    _collect(tokens, expander, context, result, depth=0)
    return end


def _eol(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end


def _collect(tokens: list[Token], expander: Expander, context: Found, result: ScanResult, depth: int) -> None:
    for command in split_commands(_take_arrays(tokens, result)):
        if _take_assignments(command, result):
            continue
        words: list[Word] = []
        for tok in command:
            words.extend(expander.words(tok))
        launch = classify(words)
        if launch is None:
            continue
        if launch.kind == "subshell":
            if depth < 3 and launch.subscript and _mentions(launch.subscript, result):
                _collect_string(launch, expander, context, result, depth)
            continue
        result.found.append(
            Found(
                launch,
                context.in_heredoc,
                context.in_function,
                context.in_string or depth > 0,
                context.line_start,
                context.line_end,
                context.via,
                context.call,
                context.call_line,
            )
        )


def _mentions(raw: str, result: ScanResult) -> bool:
    """Whether shell text mentions vLLM, or a variable already known to hold part of a vLLM command."""
    return _MENTION.search(raw) is not None or any(
        f"${name}" in raw or f"${{{name}" in raw for name in result.holders
    )


def _take_arrays(tokens: list[Token], result: ScanResult) -> list[Token]:
    """Drop array assignments `CMD=(vllm serve ...)` from a line, remembering the variables whose
    elements mention vLLM: the command runs where the array is expanded, not here."""
    if not any(t.kind == "op" and t.raw == "(" for t in tokens):
        return tokens
    out: list[Token] = []
    k = 0
    while k < len(tokens):
        tok = tokens[k]
        m = _HOLDER.fullmatch(tok.raw) if tok.kind == "word" else None
        if m is None or k + 1 >= len(tokens) or tokens[k + 1].raw != "(":
            out.append(tok)
            k += 1
            continue
        j = k + 2
        while j < len(tokens) and not (tokens[j].kind == "op" and tokens[j].raw == ")"):
            j += 1
        if any(_mentions(t.raw, result) for t in tokens[k + 2 : j]):
            _hold(m.group(1), tok.start, result)
        if out and out[-1].kind == "word" and out[-1].raw in _DECLARE:
            out.pop()  # `declare -a CMD=(...)`: nothing of the declaration is left to run
        k = j + 1
    return out


def _take_assignments(command: list[Token], result: ScanResult) -> bool:
    """True for a command that only assigns (`CMD="vllm serve ..."`, `export VLLM=/opt/bin/vllm`);
    the variables whose values mention vLLM are remembered."""
    k = 0
    if command and command[0].raw in _DECLARE:
        k = 1
        while k < len(command) and command[k].raw.startswith("-"):
            k += 1
    rest = command[k:]
    if not rest or not all(_HOLDER.match(t.raw) for t in rest):
        return False
    for tok in rest:
        m = _HOLDER.match(tok.raw)
        assert m is not None
        if _mentions(tok.raw[m.end() :], result):
            _hold(m.group(1), tok.start, result)
    return True


def _hold(name: str, pos: int, result: ScanResult) -> None:
    if name not in result.holders and len(result.holders) < MAX_HOLDERS:
        result.holders[name] = pos


def _collect_string(
    launch: Launch, expander: Expander, context: Found, result: ScanResult, depth: int
) -> None:
    """`bash -c '...'`, `eval ...`: read the string as a script of its own; its words have no place
    in the file, so every word is placed at the string's own position."""
    sub = launch.subscript or ""
    base = launch.entry.start if launch.entry is not None else context.line_start
    pos = 0
    while pos < len(sub):
        tokens, end = read_command_line(sub, pos)
        shifted = [Token(t.kind, t.raw, base, base) for t in tokens]
        inner = Found(
            launch,
            context.in_heredoc,
            context.in_function,
            True,
            context.line_start,
            context.line_end,
            context.via or launch.detail,
            context.call,
            context.call_line,
        )
        before = len(result.found)
        _collect(shifted, expander, inner, result, depth + 1)
        for f in result.found[before:]:
            f.launch.launchers[:0] = [x for x in launch.launchers if x not in f.launch.launchers]
        pos = end + 1


def _follow_holders(text: str, env: ScriptVars, result: ScanResult) -> None:
    """Read the lines that use a variable holding part of a vLLM command (`eval $CMD`, `$VLLM serve`,
    `"${CMD[@]}"`); a use that assigns another variable makes that one a holder too."""
    done = 0
    while done < len(result.holders):
        name, assigned = list(result.holders.items())[done]
        done += 1
        for use in _uses(text, name, assigned):
            start = line_start(text, use)
            heredoc = _inside(result.heredocs, use)
            if start in result.lines_read or (heredoc is not None and not heredoc.shell):
                continue
            if text[start:use].lstrip().startswith("#"):
                continue
            if len(result.lines_read) >= MAX_READ or _servers(result) > MAX_SERVERS:
                result.truncated = True
                return
            _read_line(text, start, env.expander, result, heredoc is not None)


def _uses(text: str, name: str, after: int) -> list[int]:
    """Offsets of `$name` and `${name...}` after offset `after` (bounded)."""
    found: list[int] = []
    for marker, stops in ((f"${name}", None), (f"${{{name}", "}[:-=+#%/^,@*")):
        k = after
        for _ in range(4 * MAX_USES):
            k = text.find(marker, k + 1)
            if k < 0:
                break
            nxt = text[k + len(marker) : k + len(marker) + 1]
            if stops is None and (nxt.isalnum() or nxt == "_"):
                continue
            if stops is not None and nxt and nxt not in stops:
                continue
            found.append(k)
            if len(found) >= MAX_USES:
                return found
    return found


def _follow_calls(text: str, env: ScriptVars, result: ScanResult) -> None:
    """A server command inside a shell function is read again for each literal call of the function,
    with the call's arguments as `$1`...; without a call it stays as written (arguments unknown)."""
    servers = [f for f in result.found if f.launch.kind == "server"][:MAX_CALLS]
    redone: dict[int, list[Found]] = {}
    for f in servers:
        at = f.launch.entry.start if f.launch.entry is not None else f.line_start
        fn = enclosing_function(text, at)
        if fn is None:
            continue
        f.in_function = True
        if f.line_start in redone:
            continue
        again: list[Found] = []
        for call in calls(text, fn, env.expander):
            scoped = ScanResult(heredocs=result.heredocs, holders=result.holders, lines_read=set())
            tokens, end = read_command_line(text, f.line_start)
            context = Found(Launch("none", ""), f.in_heredoc, True, False, f.line_start, end)
            context.call, context.call_line = call.pos, call.line
            _collect(tokens, env.call_scope(fn.body, call.pos, call.args).expander, context, scoped, 0)
            again.extend(x for x in scoped.found if x.launch.kind == "server")
        redone[f.line_start] = again
    if any(redone.values()):
        result.found = [
            f for f in result.found if f.launch.kind != "server" or not redone.get(f.line_start)
        ] + [x for again in redone.values() for x in again]


def host_path(found: Found, path: str, env: ScriptVars) -> tuple[str, Bind] | None:
    """The host path that a path inside the server's container stands for (`--bind "$DIR:/model"`,
    `-v`, `--mount`, pyxis `--container-mounts`, `$APPTAINER_BIND`), with the mount used; None when
    the command runs in no container or no mount maps the path."""
    binds = list(found.launch.binds)
    if {"apptainer", "singularity"} & set(found.launch.launchers):
        for name in _BIND_ENV:
            value = env.lookup(name, found.line_start)
            if isinstance(value, str):
                binds.extend(parse_binds(value, True))
    return to_host(path, binds) if binds else None
