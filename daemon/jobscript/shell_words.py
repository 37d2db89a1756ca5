"""A small, bounded reader of POSIX shell text: split one command line (with its backslash
continuations and multi-line quotes) into words that remember where they stand in the script, and
expand the variables a careful reader could know. It is not a shell: it never runs anything, it
stops at the first unescaped newline, and every regex is linear so that hostile input cannot stall
the daemon's request path."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# One token at a time. Alternatives inside the word group repeat single characters (no nested
# quantifiers over the same text), so a failed match can never backtrack exponentially.
_TOKEN = re.compile(
    r"""
     (?P<ws>(?:[ \t\r]|\\\r?\n)+)
    |(?P<nl>\n)
    |(?P<comment>\#[^\n]*)
    |(?P<heredoc><<-?[ \t]*(?:'[^'\n]*'|"[^"\n]*"|\\?[A-Za-z0-9_.-]+))
    |(?P<op>&&|\|\||;;|<<<|&>>?|[0-9]*>>?&?[0-9-]*|[0-9]*<&?[0-9-]*|[;&|()])
    |(?P<word>(?:[^\s'"\\;&|<>()`$]
        |'[^']*'
        |"(?:[^"\\$]++|\\[\s\S]|\$\((?:[^()'"]|\([^()]*\)|'[^'\n]*'|"[^"\n]*")*\)|\$(?!\())*"
        |\\[^\n]
        |\$\(\((?:[^()\n]|\([^()\n]*\))*\)\)
        |\$\((?:[^()'"]|\([^()]*\)|'[^'\n]*'|"[^"\n]*")*\)
        |\$\{(?:[^{}\n]|\$\{[^{}\n]*\})*\}
        |\$
        |`[^`]*`
        )+)
    |(?P<bad>[\s\S][^\n]*)
    """,
    re.X,
)

_PIECE = re.compile(
    r"""
     '(?P<sq>[^']*)'
    |"(?P<dq>(?:[^"\\$]++|\\[\s\S]|\$\((?:[^()'"]|\([^()]*\)|'[^'\n]*'|"[^"\n]*")*\)|\$(?!\())*)"
    |\\(?P<esc>[^\n])
    |\$\(\((?P<arith>(?:[^()\n]|\([^()\n]*\))*)\)\)
    |\$\((?P<cmd>(?:[^()'"]|\([^()]*\)|'[^'\n]*'|"[^"\n]*")*)\)
    |\$\{(?P<brace>(?:[^{}\n]|\$\{[^{}\n]*\})*)\}
    |\$(?P<name>[A-Za-z_][A-Za-z0-9_]*|[0-9@*\#?$!])
    |`(?P<bt>[^`]*)`
    |(?P<lit>[^'"\\$`]+|[\s\S])
    """,
    re.X,
)

_DQ_PIECE = re.compile(
    r"""
     \\(?P<esc>[$`"\\\n])
    |\$\(\((?P<arith>(?:[^()\n]|\([^()\n]*\))*)\)\)
    |\$\((?P<cmd>(?:[^()'"]|\([^()]*\)|'[^'\n]*'|"[^"\n]*")*)\)
    |\$\{(?P<brace>(?:[^{}\n]|\$\{[^{}\n]*\})*)\}
    |\$(?P<name>[A-Za-z_][A-Za-z0-9_]*|[0-9@*\#?$!])
    |`(?P<bt>[^`]*)`
    |(?P<lit>[^\\$`]+|[\s\S])
    """,
    re.X,
)

_BRACE = re.compile(
    r"(?P<len>\#)?(?P<name>[A-Za-z_][A-Za-z0-9_]*|[0-9]+)(?:\[(?P<idx>[^\]]*)\])?(?P<op>.*)", re.S
)
_QUOTED_ARRAY = re.compile(r'"\$(?:\{([A-Za-z_]\w*)\[@\]\}|@|\{@\})"')
_NAME_START = re.compile(r"[A-Za-z_]")  # a variable, not a positional or special parameter
_ARITH_OK = re.compile(r"[0-9+\-*/%() \t]*")
_GPU_COUNT_CMD = re.compile(
    r"nvidia-smi[^|]*\|\s*(?:grep[^|]*\|\s*)?wc\s+-l|(?:CUDA_VISIBLE_DEVICES|SLURM_\w*GPUS)\b.*(?:wc\s+-l|NF)"
)

# `$(basename "$REPO")`, `$(dirname $SNAP)`, `$(basename $F .gguf)`: one known word in, one word
# out, so the value is the script's own (no pipes, no further substitutions)
_PATH_CMD = re.compile(
    r"[ \t]*(basename|dirname)[ \t]+(?:--[ \t]+)?([^\s;&|<>()`]{1,400})(?:[ \t]+([^\s;&|<>()`$'\"]{1,100}))?[ \t]*"
)
# `$(ls -d $HF_HOME/hub/models--Qwen--Qwen3-8B/snapshots/* | head -1)`, `$(find .../models--O--N/snapshots
# -mindepth 1 -maxdepth 1 | head -n1)`: a snapshot of one cached model, picked at run time. The hash
# is unknown, the model is not: the value is the snapshots folder with a `*` for the hash.
_SNAPSHOT_PICKER = re.compile(r"[ \t]*(?:ls[ \t]+(?:-[A-Za-z1]+[ \t]+)*-[A-Za-z1]*d[A-Za-z1]*|find|echo|realpath|readlink[ \t]+-[fem])[ \t]")
_SNAPSHOT_DIR = re.compile(r"""(?<![^\s])([^\s;&|<>()`]{0,300}/models--[^/\s'"]{1,120}--[^/\s'"]{1,200}/snapshots)(?=[/\s'"]|$)""")
# `find ... -name '*.gguf'`, `-type f`: files of a snapshot, not the snapshot folder
_SNAPSHOT_FILES = re.compile(r"[ \t]-(?:i?name|i?path|i?regex|wholename|type[ \t]+[^d\s])\b")
_SNAPSHOT_FILTER = re.compile(r"[ \t]*(?:head|tail|sort)(?:[ \t]+-[A-Za-z0-9]+(?:[ \t]+[0-9]+)?)*[ \t]*")
MAX_DEPTH = 8
# Real vLLM command lines are a few hundred characters; reading further only costs time.
MAX_COMMAND_CHARS = 8192
MAX_TOKENS = 512


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word: `raw` is the source text at [start, end) of the script; `value` its best-effort
    expansion. `known` is False when an expansion could not be resolved (the value then keeps the
    `$NAME` text); `split` is True when the word came from, or may come from, splitting an unquoted
    expansion: such words are not literally on the line."""

    raw: str
    start: int
    end: int
    value: str
    known: bool = True
    split: bool = False
    expanded: bool = False


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "word", "op", "heredoc"
    raw: str
    start: int
    end: int


# A lookup answers a variable's value at a position: a string, a list (bash array), a dict
# (associative array, `declare -A`) or None (unknown).
Lookup = Callable[[str, int], "str | list[str] | dict[str, str] | None"]


def read_command_line(text: str, pos: int) -> tuple[list[Token], int]:
    """Tokens of the shell line starting at `pos`, through backslash continuations and quotes that
    span lines, up to (not including) the unescaped newline that ends it. Returns (tokens, end).
    A line longer than MAX_COMMAND_CHARS or MAX_TOKENS is read only that far."""
    tokens: list[Token] = []
    n = min(len(text), pos + MAX_COMMAND_CHARS)
    while pos < n and len(tokens) < MAX_TOKENS:
        m = _TOKEN.match(text, pos, n)
        if m is None:  # pragma: no cover - the `bad` alternative matches any character
            break
        kind = m.lastgroup or "bad"
        if kind == "nl":
            return tokens, pos
        if kind in ("word", "op", "heredoc"):
            tokens.append(Token(kind, m.group(), m.start(), m.end()))
        elif kind == "bad":
            # an unterminated quote: the shell would fail; keep the rest of the line as one word
            tokens.append(Token("word", m.group(), m.start(), m.end()))
        pos = m.end()
    return tokens, pos


def split_commands(tokens: list[Token]) -> list[list[Token]]:
    """Simple commands of a line, split at control operators; redirections and their targets dropped."""
    commands: list[list[Token]] = [[]]
    skip_next = False
    for tok in tokens:
        if skip_next:
            skip_next = False
            if tok.kind == "word":
                continue
        if tok.kind == "op" and tok.raw in ("&&", "||", ";", ";;", "&", "|", "(", ")"):
            commands.append([])
        elif tok.kind == "op":  # a redirection: its target is the next word unless written `2>&1`
            skip_next = not tok.raw.endswith(("&1", "&2", "&-"))
        elif tok.kind == "heredoc":
            continue
        else:
            commands[-1].append(tok)
    return [c for c in commands if c]


class Expander:
    """Expands words with a variable lookup; unknown variables are kept as written, and marked."""

    def __init__(
        self,
        lookup: Lookup,
        gpus_per_node: int | None,
        *,
        positional_known: bool = False,
        from_arguments: Callable[[str, int], bool] | None = None,
    ) -> None:
        """`positional_known`: the job has script arguments, so an unknown `$1` is not unset and
        `${1:-default}` is unknown, not the default. `from_arguments(name, pos)`: `name` was set
        from those arguments (`getopts`, a `while [[ $# -gt 0 ]]` loop) to a value not followed, so
        `${name:-default}` is unknown too."""
        self._lookup = lookup
        self._gpus_per_node = gpus_per_node
        self._positional_known = positional_known
        self._from_arguments = from_arguments

    @property
    def gpus_per_node(self) -> int | None:
        return self._gpus_per_node

    def lookup(self, name: str, pos: int) -> str | list[str] | dict[str, str] | None:
        """A variable's value at `pos`, as the expansions see it."""
        return self._lookup(name, pos)

    def words(self, tok: Token, depth: int = 0) -> list[Word]:
        """The words one token expands to (zero or more after splitting an unquoted expansion)."""
        arr = _QUOTED_ARRAY.fullmatch(tok.raw)
        if arr is not None:  # "${ARGS[@]}", "$@": one word per element, none of them on the line itself
            items = self._lookup(arr.group(1) or "@", tok.start)
            if isinstance(items, dict):
                items = list(items.values())
            if isinstance(items, list):
                return [Word(tok.raw, tok.start, tok.end, v, True, True, True) for v in items]
        segments: list[tuple[str, bool, bool]] = []  # (text, splittable, known)
        expanded = False
        for m in _PIECE.finditer(tok.raw):
            kind = m.lastgroup
            if kind == "sq":
                segments.append((m.group("sq"), False, True))
            elif kind == "dq":
                text, known, exp = self._dq(m.group("dq"), tok.start, depth)
                segments.append((text, False, known))
                expanded = expanded or exp
            elif kind == "esc":
                segments.append((m.group("esc"), False, True))
            elif kind == "lit":
                segments.append((m.group("lit"), False, True))
            else:
                value, known = self._expansion(m, tok.start, depth)
                expanded = True
                segments.append(
                    (value, known, known) if isinstance(value, str) else (" ".join(value), True, True)
                )
                if not known:
                    segments[-1] = (m.group(), False, False)
        return _assemble(tok, segments, expanded)

    def _dq(self, body: str, pos: int, depth: int) -> tuple[str, bool, bool]:
        out: list[str] = []
        known = True
        expanded = False
        for m in _DQ_PIECE.finditer(body):
            kind = m.lastgroup
            if kind == "esc":
                out.append("" if m.group("esc") == "\n" else m.group("esc"))
            elif kind == "lit":
                out.append(m.group("lit"))
            else:
                value, ok = self._expansion(m, pos, depth)
                expanded = True
                if ok:
                    out.append(value if isinstance(value, str) else " ".join(value))
                else:
                    known = False
                    out.append(m.group())
        return "".join(out), known, expanded

    def _expansion(self, m: re.Match[str], pos: int, depth: int) -> tuple[str | list[str], bool]:
        kind = m.lastgroup
        if depth > MAX_DEPTH:
            return "", False
        if kind == "name":
            name = m.group("name")
            value = self._lookup(name, pos)
            if value is None:
                return "", False
            if isinstance(value, dict):  # $MAP is ${MAP[0]}
                return value.get("0", ""), True
            if isinstance(value, list):  # $ARR is its first element; $@ and $* are all of them
                return (" ".join(value) if name in "@*" else (value[0] if value else "")), True
            return value, True
        if kind == "brace":
            return self._brace(m.group("brace"), pos, depth)
        if kind == "arith":
            return self._arith(m.group("arith"), pos, depth)
        body = m.group("cmd") if kind == "cmd" else m.group("bt")
        if body.lstrip(" \t").startswith("#") and "\n" not in body:
            return "", True  # `` `#note` ``: an inline comment, which expands to nothing
        if self._gpus_per_node is not None and _GPU_COUNT_CMD.search(body):
            return str(self._gpus_per_node), True  # `$(nvidia-smi -L | wc -l)`: the GPUs Slurm gave
        picked = self._snapshot(body, pos, depth)
        if picked is not None:
            return picked, True
        path = _PATH_CMD.fullmatch(body)
        if path is not None and "$(" not in path.group(2):
            arg, known = self._nested(path.group(2), pos, depth)
            if known and arg and " " not in arg:
                return _path_part(path.group(1), arg, path.group(3)), True
        return "", False

    def _snapshot(self, body: str, pos: int, depth: int) -> str | None:
        """`<cache>/models--ORG--NAME/snapshots/*` for a command that prints one snapshot folder of a
        cached model (ls -d, find, echo, realpath, then at most head/tail/sort); else None. The
        folder's own parts keep an unknown `$VAR` as written: the model's name is in the folder."""
        if len(body) > 1000 or "$(" in body or "`" in body:
            return None
        first, *rest = body.split("|")
        if len(rest) > 3 or not all(_SNAPSHOT_FILTER.fullmatch(r) for r in rest):
            return None
        if _SNAPSHOT_PICKER.match(first) is None:
            return None
        found = _SNAPSHOT_DIR.search(first)
        if found is None or _SNAPSHOT_FILES.search(first):
            return None
        tail = re.match(r"""[^\s]*""", first[found.end() :])
        if tail is None or tail.group().strip("'\"") not in ("", "/", "/*", "/*/"):
            return None  # `.../snapshots/*/*.gguf`: a file of the snapshot, not the folder
        raw = found.group(1)
        for quote in "'\"":  # `"$HF_HOME/hub/models--O--N/snapshots"/*`: the quote closes after the folder
            if raw.count(quote) % 2:
                raw += quote
        ws = self.words(Token("word", raw, pos, pos), depth + 1)
        folder = " ".join(w.value if w.known else w.raw for w in ws)
        return folder + "/*" if folder and " " not in folder else None

    def _brace(self, body: str, pos: int, depth: int) -> tuple[str | list[str], bool]:
        b = _BRACE.fullmatch(body)
        if b is None:
            return "", False
        found = self._lookup(b.group("name"), pos)
        idx, op = b.group("idx"), b.group("op")
        if found is None and self._positional_known and not _NAME_START.match(b.group("name")):
            return "", False  # an argument the job has but whose value is not followed: no default
        set_by_args = self._from_arguments
        if found is None and op and set_by_args is not None and set_by_args(b.group("name"), pos):
            return "", False  # `-m X` given: MODEL=$OPTARG ran, and ${MODEL:-default} is not the default
        value: str | list[str] | None
        if isinstance(found, dict):
            if idx in ("@", "*"):
                value = list(found.values()) if not b.group("len") else str(len(found))
            elif idx is None:
                value = found.get("0", "")
            else:
                key, ok = self._nested(idx, pos, depth)
                value = found.get(key) if ok else None  # a missing key, or a key the script does not fix
        elif isinstance(found, list):
            if idx in ("@", "*"):
                value = found if not b.group("len") else str(len(found))
            elif idx is not None and not idx.isdigit():
                key, ok = self._nested(idx, pos, depth)  # `${ARR[$I]}`
                if not ok:  # `${MODELS[$SLURM_ARRAY_TASK_ID]}`: known only when every entry agrees
                    value = _agreed(found)
                else:
                    value = found[int(key)] if key.isdigit() and int(key) < len(found) else None
            elif idx is not None:
                value = found[int(idx)] if int(idx) < len(found) else ""
            else:
                value = found[0] if found else ""
        else:
            value = found
        if b.group("len"):
            return (str(len(value)), True) if value is not None else ("", False)
        if not op:
            return (value, True) if value is not None else ("", False)
        return self._brace_op(value, op, pos, depth)

    def _brace_op(self, value: str | list[str] | None, op: str, pos: int, depth: int) -> tuple[str, bool]:
        text = " ".join(value) if isinstance(value, list) else value
        for prefix in (":-", ":=", "-", "="):
            if op.startswith(prefix):
                if text is not None and (text != "" or not prefix.startswith(":")):
                    return text, True
                return self._nested(op[len(prefix) :], pos, depth)
        if op.startswith((":+", "+")):
            if text is None:
                return "", False
            return (self._nested(op[2 if op[0] == ":" else 1 :], pos, depth)) if text else ("", True)
        if text is None:
            return "", False
        return _trim(text, op)

    def _nested(self, raw: str, pos: int, depth: int) -> tuple[str, bool]:
        ws = self.words(Token("word", raw, pos, pos), depth + 1) if raw else []
        return " ".join(w.value for w in ws), all(w.known for w in ws)

    def _arith(self, body: str, pos: int, depth: int) -> tuple[str, bool]:
        def repl(m: re.Match[str]) -> str:
            v = self._lookup(m.group(1) or m.group(2), pos)
            return v if isinstance(v, str) and v.strip().isdigit() else "?"

        expr = re.sub(r"\$\{?([A-Za-z_]\w*)\}?|\b([A-Za-z_]\w*)\b", repl, body)
        if not _ARITH_OK.fullmatch(expr):
            return "", False
        result = _eval_int(expr)
        return (str(result), True) if result is not None else ("", False)


def _path_part(cmd: str, path: str, suffix: str | None) -> str:
    """What `basename PATH [SUFFIX]` or `dirname PATH` prints."""
    trimmed = path.rstrip("/")
    if not trimmed:
        return "/"
    if cmd == "dirname":
        head = trimmed.rsplit("/", 1)[0] if "/" in trimmed else "."
        return head.rstrip("/") or "/"
    base = trimmed.rsplit("/", 1)[-1]
    if suffix and base != suffix and base.endswith(suffix):
        base = base[: -len(suffix)]
    return base


def _agreed(values: list[str]) -> str | None:
    """The one value every entry of a table holds, looked up with an index the script does not fix
    (an array job's task id, the caller's key); None when they differ or there are none."""
    return values[0] if values and all(v == values[0] for v in values) else None


def _trim(text: str, op: str) -> tuple[str, bool]:
    """`${V##*/}`, `${V%/*}`, literal prefix/suffix removal, case changes; anything else is unknown."""
    if op in ("##*/", "#*/"):
        return text.rstrip("/").rsplit("/", 1)[-1] if op == "##*/" else text.split("/", 1)[-1], True
    if op in ("%/*", "%%/*"):
        return (text.rsplit("/", 1)[0] if op == "%/*" else text.split("/", 1)[0]), True
    if op in (",,", "^^"):
        return (text.lower() if op == ",," else text.upper()), True
    for mark in ("##", "#", "%%", "%"):
        if op.startswith(mark):
            pat = op[len(mark) :]
            if any(c in pat for c in "*?[$"):
                return "", False
            if mark.startswith("#"):
                return (text[len(pat) :] if text.startswith(pat) else text), True
            return (text[: -len(pat)] if pat and text.endswith(pat) else text), True
    return "", False


def _eval_int(expr: str) -> int | None:
    """Integer arithmetic over + - * / % and parentheses, without eval()."""
    toks = re.findall(r"\d+|[-+*/%()]", expr)
    pos = 0

    def atom() -> int:
        nonlocal pos
        t = toks[pos]
        pos += 1
        if t == "(":
            v = add()
            pos += 1
            return v
        if t == "-":
            return -atom()
        return int(t)

    def mul() -> int:
        nonlocal pos
        v = atom()
        while pos < len(toks) and toks[pos] in "*/%":
            op = toks[pos]
            pos += 1
            r = atom()
            v = v * r if op == "*" else (v // r if op == "/" else v % r)
        return v

    def add() -> int:
        nonlocal pos
        v = mul()
        while pos < len(toks) and toks[pos] in "+-":
            op = toks[pos]
            pos += 1
            v = v + mul() if op == "+" else v - mul()
        return v

    try:
        value = add()
    except (IndexError, ValueError, ZeroDivisionError):
        return None
    return value if pos == len(toks) else None


def _assemble(tok: Token, segments: list[tuple[str, bool, bool]], expanded: bool) -> list[Word]:
    """Join segments into words, splitting the unquoted expansions at whitespace like the shell."""
    known = all(k for _, _, k in segments)
    if not any(s for _, s, _ in segments):
        value = "".join(t for t, _, _ in segments)
        # an unquoted unknown expansion standing alone may be several words, or none
        alone_unknown = not known and tok.raw.startswith("$") and len(segments) == 1
        return [Word(tok.raw, tok.start, tok.end, value, known, alone_unknown, expanded)]
    parts: list[str] = [""]
    for text, splittable, _ in segments:
        if not splittable:
            parts[-1] += text
            continue
        pieces = text.split()
        if not pieces:
            continue
        if text[:1].isspace():
            parts.append("")
        parts[-1] += pieces[0]
        for p in pieces[1:]:
            parts.append(p)
        if text[-1:].isspace():
            parts.append("")
    parts = [p for p in parts if p]
    split = len(parts) != 1
    return [Word(tok.raw, tok.start, tok.end, p, known, split, True) for p in parts]


# a command substitution as the tokenizer reads it (one level of parentheses, quoted text whole):
# `$(python -c 'print(("",0))')` is one unknown, not a word with `0))')` left over
_PLACEHOLDER = re.compile(
    r"""\$\{[^}]*\}|\$[A-Za-z_0-9@*#?$!]\w*|\$\((?:[^()'"]|\([^()]*\)|'[^'\n]*'|"[^"\n]*")*\)|\$\([^)]*\)"""
)


def informative(value: str) -> bool:
    """True when a partly expanded value still says something once its unknown `$VAR`s are
    removed: `/scratch/$USER/models/Qwen2.5-7B` does, `$MODEL` does not."""
    return any(c.isalnum() for c in _PLACEHOLDER.sub("", value))


def line_start(text: str, pos: int) -> int:
    """Start of the logical line holding `pos`: back over physical lines ended by a backslash."""
    start = text.rfind("\n", 0, pos) + 1
    while start > 0:
        prev = text.rfind("\n", 0, start - 1) + 1
        line = text[prev : start - 1].rstrip("\r")
        if not line.endswith("\\") or line.lstrip().startswith("#"):
            break
        start = prev
    return start


def read_array(text: str, pos: int) -> tuple[list[Token], int]:
    """Words of a bash array literal whose '(' is at `pos`, across lines, up to its ')'."""
    tokens: list[Token] = []
    pos += 1
    n = min(len(text), pos + MAX_COMMAND_CHARS)
    while pos < n and len(tokens) < MAX_TOKENS:
        m = _TOKEN.match(text, pos, n)
        if m is None:  # pragma: no cover
            break
        kind = m.lastgroup
        if kind == "op" and m.group() == ")":
            return tokens, m.end()
        if kind in ("word", "bad"):
            tokens.append(Token("word", m.group(), m.start(), m.end()))
        pos = m.end()
    return tokens, pos


def read_word(text: str, pos: int) -> Token | None:
    """The single word starting at `pos` (an assignment's value), or None when none starts there."""
    m = _TOKEN.match(text, pos, pos + MAX_COMMAND_CHARS)
    if m is None or m.lastgroup != "word":
        return None
    return Token("word", m.group(), m.start(), m.end())
