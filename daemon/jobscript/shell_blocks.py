"""Where a command stands in the shape of a script: inside a shell function (and where that
function is called, with which literal arguments), inside a loop, or inside an `if`/`case`.

Each question is answered by a few literal searches around one position, never by a pass over the
whole script, so they cost little even in a 64 KiB script; each walk is bounded."""

from __future__ import annotations

import re
from dataclasses import dataclass

from omnipilot.daemon.jobscript.shell_words import (
    Expander,
    Token,
    line_start,
    read_command_line,
    split_commands,
)

_FUNCTION = re.compile(
    r"[ \t]*(?:function[ \t]+([A-Za-z_][\w:.-]*)[ \t]*(?:\(\))?|([A-Za-z_][\w:.-]*)[ \t]*\(\))[ \t]*(\{?)"
)
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_MAX_HITS = 256  # keyword or name occurrences examined per question
MAX_CALLS = 8  # calls of one function followed
_MAX_ARGS = 64  # arguments of one call read


@dataclass(frozen=True, slots=True)
class FunctionDef:
    name: str
    header: int  # offset of the line that opens the definition
    body: tuple[int, int]  # offsets [start, end) of the body


@dataclass(frozen=True, slots=True)
class Call:
    pos: int  # offset of the function name at the call
    line: int  # 1-based line of the call
    args: list[str]
    known: bool  # every argument was literal or resolved


def enclosing_function(text: str, pos: int) -> FunctionDef | None:
    """The function whose body holds `pos`: `name() {` or `function name {` before it with no line
    starting with `}` in between (the closing brace of a one-line body ends that line)."""
    for marker in ("()", "function"):
        k = pos
        for _ in range(16):
            k = text.rfind(marker, 0, k)
            if k < 0:
                break
            head = text.rfind("\n", 0, k) + 1
            m = _FUNCTION.match(text, head)
            if m is None:
                continue
            line_end = _eol(text, m.end())
            if line_end >= pos:  # a one-line function: `f() { vllm serve "$1"; }`
                close = text.rfind("}", pos, line_end)
                return FunctionDef(
                    m.group(1) or m.group(2), head, (m.end(), close if close >= 0 else line_end)
                )
            close = text.find("\n}", line_end)
            end = len(text) if close < 0 else close + 1
            if end >= pos:
                return FunctionDef(m.group(1) or m.group(2), head, (m.end(), end))
    return None


def calls(text: str, fn: FunctionDef, expander: Expander) -> list[Call]:
    """The places where `fn` is called as a command, outside its own body, with their arguments."""
    found: list[Call] = []
    name = fn.name
    k = 0
    for _ in range(_MAX_HITS):
        k = text.find(name, k)
        if k < 0 or len(found) >= MAX_CALLS:
            break
        hit, k = k, k + len(name)
        if fn.header <= hit < fn.body[1] or not _command_word(text, hit, k):
            continue
        call = _call_at(text, hit, name, expander)
        if call is not None:
            found.append(call)
    return found


def _command_word(text: str, start: int, end: int) -> bool:
    before = text[text.rfind("\n", 0, start) + 1 : start].rstrip(" \t")
    after = text[end : end + 1]
    if after and after not in " \t\r\n;&|)":
        return False
    return before == "" or before.endswith((";", "&&", "||", "|", "then", "do", "else", "{", "("))


def _call_at(text: str, hit: int, name: str, expander: Expander) -> Call | None:
    start = line_start(text, hit)
    tokens, _ = read_command_line(text, start)
    for command in split_commands(tokens):
        words = [t for t in command if not _ASSIGN.match(t.raw)]
        if words and words[0].start == hit and words[0].raw == name:
            args: list[str] = []
            known = True
            for tok in words[1 : 1 + _MAX_ARGS]:
                for w in expander.words(Token(tok.kind, tok.raw, hit, hit)):
                    args.append(w.value)
                    known = known and w.known
            return Call(hit, text.count("\n", 0, hit) + 1, args, known)
    return None


_LOOP_WORDS = ("done", "do")


def enclosing_loop(text: str, pos: int) -> int | None:
    """The 1-based line of the `do` of the innermost `for`/`while`/`until` loop holding `pos`."""
    k = loop_do(text, pos)
    return None if k is None else text.count("\n", 0, k) + 1


def loop_do(text: str, pos: int) -> int | None:
    """Offset of the `do` of the innermost `for`/`while`/`until` loop holding `pos`, found by
    walking back over `do` / `done` keywords."""
    depth = 0
    k = pos
    for _ in range(_MAX_HITS):
        k = text.rfind("do", 0, k)
        if k < 0:
            return None
        word = "done" if text.startswith("done", k) else "do"
        if not _keyword(text, k, k + len(word)):
            continue
        if word == "done":
            depth += 1
        elif depth == 0:
            return k
        else:
            depth -= 1
    return None


_BRANCH = re.compile(r"\b(?:if|fi|case|esac)\b")
_BRANCH_WINDOW = 4096  # conditionals are local: look this far back


def enclosing_branch(text: str, pos: int) -> int | None:
    """Offset of the innermost `if` or `case` whose block holds `pos` (looked for in the few KiB
    before it), else None."""
    lo = max(0, pos - _BRANCH_WINDOW)
    hits = [m for m in _BRANCH.finditer(text, lo, pos) if _keyword(text, m.start(), m.end())]
    depth = 0
    for m in reversed(hits[-_MAX_HITS:]):
        if m.group() in ("fi", "esac"):
            depth += 1
        elif depth == 0:
            return m.start()
        else:
            depth -= 1
    return None


def _keyword(text: str, start: int, end: int) -> bool:
    """A reserved word stands first on its line or after `;`, `&`, `|`, `then`, `else`, `do`, and
    is followed by a blank or an operator."""
    after = text[end : end + 1]
    if after and after not in " \t\r\n;&|)":
        return False
    before = text[text.rfind("\n", 0, start) + 1 : start].rstrip(" \t")
    return before == "" or before.endswith((";", "&", "|", "then", "else", "do"))


def _eol(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end
