"""Shell variables a reader of a batch script can know: assignments made earlier in the script
(`MODEL=...`, `export MODEL_NAME="..."`, `ARGS=(...)`, `: ${MODEL:=...}`), and the `SLURM_*`
variables that the script's own `#SBATCH` request fixes. A variable set by a loop, by `read`, by a
sourced file or by the caller is unknown, never guessed.

Assignments are looked for lazily, only for the names the vLLM command uses, and evaluated only
when needed, so a long script costs little."""

from __future__ import annotations

import re
from bisect import bisect_left
from fnmatch import fnmatchcase

from omnipilot.daemon.jobscript.shell_blocks import enclosing_branch, loop_do
from omnipilot.daemon.jobscript.shell_words import (
    Expander,
    Token,
    informative,
    read_array,
    read_command_line,
    read_word,
)

# What may stand before `NAME=` on its line for it to be an assignment: nothing, a command
# separator, a compound-command keyword, or a declaration builtin with its flags.
_ASSIGN_PREFIX = re.compile(
    r"(?:.*(?:[;&|(){]|\bthen|\bdo|\belse))?[ \t]*"
    r"(?:(?:export|declare|typeset|local|readonly)(?:[ \t]+[^\s;&|]+)*?[ \t]+)?"  # `export A=1 B=2`
)
_DEFAULT_ASSIGN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=((?:[^{}\n]|\$\{[^{}\n]*\})*)\}")
_FOR_PREFIX = re.compile(r".*\bfor[ \t]+")
_READ_PREFIX = re.compile(r".*\bread\b(?:[ \t]+-?[A-Za-z_]\w*)*[ \t]+")
_NAME = re.compile(r"[A-Za-z_]")
# `read -r A B <<< "x y"`: the names read from a here-string, and the string after them
_HERE_READ = re.compile(r"(?:.*(?:[;&|(){]|\bthen|\bdo|\belse))?[ \t]*read(?:[ \t]+-r)*(?:[ \t]+[A-Za-z_]\w*)*[ \t]+")
_HERE_STRING = re.compile(r"(?:[ \t]+[A-Za-z_]\w*)*[ \t]*<<<[ \t]*")
_PRINTF_PREFIX = re.compile(r"(?:.*(?:[;&|(){]|\bthen|\bdo|\belse))?[ \t]*printf[ \t]+-v[ \t]+")
_PRINTF_SPEC = re.compile(r"%(?:%|s|d)")
_HEAD_SPLIT = re.compile(r"[\s;&|(){}]+")
_MAX_PRINTF_ARGS = 32
_CASE_HEAD = re.compile(r"case[ \t]+(\S+)[ \t]+in\b")
_MAX_ARMS = 64  # arms of one case examined
_CASE_WINDOW = 8192
_ELEMENT = re.compile(r"\[([^\]\n]{1,200})\](\+?=)")  # `MAP[key]=value`
_KEYED = re.compile(r"\[([^\]\n]{1,200})\]=")  # `[key]=value` in an array literal
# `source FILE`, `. FILE`, and `export $(grep -v '^#' .env | xargs)`: names set outside the script
_SOURCED = re.compile(r"(?m)^[ \t]*(?:(?:source|\.)[ \t]+[^\s;&|]+|export[ \t]+\$\()")
_SCRIPT_ARG = re.compile(r"\$\{?([1-9])\b")
_MAX_SITES = 64  # occurrences of one name examined: a hostile script cannot make lookups slow
_MAX_LINE = 400  # a prefix this long is not an assignment context worth parsing

Value = str | list[str] | dict[str, str] | None
_MAX_EVALS = 256  # bounds the work one parse may spend on variables
_ASSIGNING = ("set", "append", "element")
# A loop over the script's own arguments: `while [[ $# -gt 0 ]]`, `for a in "$@"`, `getopts`.
_MOVES_ARGS = re.compile(r"(?m)(?:^|[;&|({]|\bthen|\bdo|\belse)[ \t]*(?:shift\b|set[ \t]+--)")
_ARGUMENT_LOOP = re.compile(r"\$#|\$\{#\}|\$@|\$\{@\}|\$\*|\bgetopts\b")


def _word_char(text: str, k: int) -> bool:
    return 0 <= k < len(text) and (text[k].isalnum() or text[k] == "_")


class ScriptVars:
    """Look up a variable's value as the script would have it at a position."""

    def __init__(
        self,
        text: str,
        slurm_env: dict[str, str],
        gpus_per_node: int | None,
        *,
        no_args: bool = False,
        args: list[str] | None = None,
    ) -> None:
        """`no_args`: the job is known to have been submitted without script arguments, so a loop
        over them (`while [[ $# -gt 0 ]]; do case $1 in --model) MODEL=$2 ...`) never runs and the
        defaults set before it stand. `args`: the script's own arguments when the job description
        gives them (`sbatch job.sh Qwen/Qwen3-8B`): `$1`, `"$@"` and `$#` read them, and
        `${1:-default}` is the argument, not the default."""
        self._text = text
        self._no_args = no_args or args == []
        self._script_args = args if args else None
        # `shift` or `set --` anywhere moves the arguments in ways not followed here: then a positional
        # parameter of a job that has arguments is unknown, and never its default
        self._args_moved = bool(args) and _MOVES_ARGS.search(text) is not None
        self._slurm = slurm_env
        self._sites: dict[str, list[tuple[int, str, int]]] = {}  # name -> [(pos, kind, value_pos)]
        self._cache: dict[tuple[str, int], Value] = {}
        self._blocks: dict[tuple[str, int], int | None] = {}
        self._evals = 0
        self._arms: dict[tuple[str, int], tuple[Value] | None] = {}
        self.reasons: dict[str, str] = {}  # name -> why its value cannot be known, where that is specific
        self._sourced: bool | None = None
        self.expander = Expander(
            self.lookup, gpus_per_node, positional_known=self._script_args is not None,
            from_arguments=self._from_arguments,
        )  # fmt: skip

    def _index(self, name: str) -> list[tuple[int, str, int]]:
        """Where `name` is set: one literal search for the name (fast in C), each hit then judged
        by the few characters around it."""
        text = self._text
        sites: list[tuple[int, str, int]] = []
        for hits, m in enumerate(re.finditer(re.escape(name), text)):
            i, j = m.start(), m.end()
            if len(sites) >= _MAX_SITES or hits >= 8 * _MAX_SITES:
                return [*sites, (i, "unknown", i)]  # past here the value is not worth knowing
            if _word_char(text, i - 1) or _word_char(text, j):
                continue
            site = self._judge(name, i, j)
            if site is not None and not (self._no_args and self._in_argument_loop(i)):
                sites.append(site)
        return sites

    def _from_arguments(self, name: str, pos: int) -> bool:
        """The job has script arguments and `name` was last set before `pos` inside a loop over them
        (`while getopts ...; do case $opt in m) MODEL=$OPTARG`): which options ran is not followed,
        so the name may hold an argument rather than the default that comes after."""
        if not self._script_args:
            return False
        site = self._site_before(name, pos, 0)
        if site is None or not self._in_argument_loop(site[0]):
            return False
        line = self._text.count("\n", 0, site[0]) + 1
        self.reasons.setdefault(name, f"the loop over the script's arguments at line {line} may set it")
        return True

    def _in_argument_loop(self, pos: int) -> bool:
        """Is `pos` inside a loop over the script's arguments? Its header is the `do` line and the
        line before it (`while [[ $# -gt 0 ]]` / `do`)."""
        do = loop_do(self._text, pos)
        if do is None:
            return False
        start = self._text.rfind("\n", 0, max(self._text.rfind("\n", 0, do), 0)) + 1
        return _ARGUMENT_LOOP.search(self._text, start, do) is not None

    def _judge(self, name: str, i: int, j: int) -> tuple[int, str, int] | None:
        text = self._text
        line = text[max(text.rfind("\n", 0, i) + 1, i - _MAX_LINE) : i]
        if line.lstrip().startswith("#"):
            return None  # `# usage: (TP=4 sbatch job.sh)`: a comment sets nothing
        if text.startswith("[", j):
            m = _ELEMENT.match(text, j)
            if m is not None and _ASSIGN_PREFIX.fullmatch(line) and not line.rstrip().endswith(("$", "{")):
                return (i, "element", m.end())
            return None
        if text.startswith("=", j) or text.startswith("+=", j):
            if _ASSIGN_PREFIX.fullmatch(line) and not line.rstrip().endswith(("$", "{")):
                append = text.startswith("+=", j)
                return (i, "append" if append else "set", j + (2 if append else 1))
            if line.endswith("${"):
                return (i, "default", i - 2)
            return None
        if text.startswith(":=", j) and line.endswith("${"):
            return (i, "default", i - 2)
        if "printf" in line and _PRINTF_PREFIX.fullmatch(line):
            return (i, "printf", j)
        if ("for" in line or "read" in line) and (
            _FOR_PREFIX.fullmatch(line) or _READ_PREFIX.fullmatch(line)
        ):
            if "read" in line and _HERE_READ.fullmatch(line) and _HERE_STRING.match(text, j):
                return (i, "herestring", j)
            return (i, "unknown", i)
        return None

    def _positional(self, name: str) -> Value:
        """$1, "$@", $#: the script's arguments when the job gives them; None when it gives none
        (a default stands), when they are not known, or when the script shifts them."""
        args = self._script_args
        if args is None or self._args_moved:
            return None
        if name.isdigit():
            k = int(name)
            return None if k == 0 else (args[k - 1] if k <= len(args) else "")
        if name in ("@", "*"):
            return list(args)
        return str(len(args)) if name == "#" else None

    def sites(self, name: str) -> list[tuple[int, str, int]]:
        """Where `name` is set, in text order: [(position, kind, value position)]."""
        sites = self._sites.get(name)
        if sites is None:
            sites = self._sites[name] = self._index(name)
        return sites

    def lookup(self, name: str, pos: int) -> Value:
        """The value of `name` just before offset `pos`; None when the script does not say."""
        if not _NAME.match(name):
            return self._positional(name)
        site = self._site_before(name, pos, 0)
        if site is not None:
            block = self._branch_block(name, site)
            if block is not None and enclosing_branch(self._text, pos) != block:
                return self._agreed(name, block)
            return self._value(name, site)
        if name not in self._slurm and name not in self.reasons and self._sources_files():
            self.reasons[name] = (
                "it is not set in the script (a sourced file or the caller's environment sets it)"
            )
        return self._slurm.get(name)

    def _sources_files(self) -> bool:
        if self._sourced is None:
            self._sourced = _SOURCED.search(self._text) is not None
        return self._sourced

    def _branch_block(self, name: str, site: tuple[int, str, int]) -> int | None:
        """The `if`/`case` block (its offset) when `site` is one of several branches that set `name`
        (`if ...; then TP=4; else TP=1; fi`), else None."""
        key = (name, site[0])
        block = self._blocks.get(key, -1)
        if block == -1:
            block = enclosing_branch(self._text, site[0])
            others = [s for s in self.sites(name) if s[0] != site[0] and s[1] in _ASSIGNING]
            if block is not None and not any(enclosing_branch(self._text, s[0]) == block for s in others):
                block = None
            self._blocks[key] = block
        return block

    def _agreed(self, name: str, block: int) -> Value:
        """Read from after an `if`/`case` whose branches set `name`: the value when every branch
        sets the same one (the condition then does not matter), else unknown, and why."""
        values: list[Value] = []
        for s in self.sites(name)[:_MAX_SITES]:
            if s[1] in _ASSIGNING and enclosing_branch(self._text, s[0]) == block:
                values.append(self._value(name, s))
        if values and values[0] is not None and all(v == values[0] for v in values):
            return values[0]
        line = self._text.count("\n", 0, block) + 1
        kind = "case" if self._text.startswith("case", block) else "if"
        if kind == "case":
            key = (name, block)
            if key not in self._arms:
                self._arms[key] = self._case_arm(name, block)
            chosen = self._arms[key]
            if chosen is not None:
                return chosen[0]
        if any(v is None for v in values):
            self.reasons.setdefault(
                name, f"a branch of the {kind} at line {line} sets it to a value the script does not fix"
            )
        else:
            self.reasons.setdefault(
                name, f"the branches of the {kind} at line {line} set it to different values"
            )
        return None

    def _case_arm(self, name: str, block: int) -> tuple[Value] | None:
        """`SIZE=32b; case "$SIZE" in 8b) M=...;; 32b) M=...;; esac`: when the script fixes the
        case's word, the arm it selects (the first whose pattern matches) decides; (value,) or None
        when the word or the arms cannot be read."""
        text = self._text
        m = _CASE_HEAD.match(text, block)
        if m is None:
            return None
        word = read_word(text, m.start(1))
        words = self.expander.words(word) if word is not None else []
        if not words or not all(w.known for w in words):
            return None
        subject = " ".join(w.value for w in words)
        arm_start = m.end()
        lim = min(len(text), block + _CASE_WINDOW)  # a case is local: its arms are looked for this far
        for _ in range(_MAX_ARMS):
            close = text.find(")", arm_start, lim)
            end = text.find(";;", arm_start, lim)
            esac = text.find("esac", arm_start, lim)
            if close < 0 or (0 <= esac < close):
                return None  # no arm matches: the value set before the case stands (not followed)
            patterns = [p.strip().strip("\"'") for p in text[arm_start:close].strip().lstrip("(").split("|")]
            if any(fnmatchcase(subject, p) for p in patterns):
                stop = end if 0 <= end and (esac < 0 or end < esac) else esac if esac >= 0 else len(text)
                inside = [s for s in self.sites(name) if close < s[0] < stop and s[1] in _ASSIGNING]
                if not inside:
                    return None
                return (self._value(name, inside[-1]),)
            if end < 0 or (0 <= esac < end):
                return None
            arm_start = end + 2
        return None

    def _site_before(self, name: str, pos: int, floor: int) -> tuple[int, str, int] | None:
        sites = self.sites(name)
        k = bisect_left(sites, (pos, "", 0)) - 1
        if k >= 0 and sites[k][2] == pos and sites[k][1] in _ASSIGNING:
            k -= 1  # `M=${M:-x}` reads M as it was before this assignment, not the assignment itself
        return sites[k] if k >= 0 and sites[k][0] >= floor else None

    def _value(self, name: str, site: tuple[int, str, int]) -> Value:
        key = (name, site[0])
        if key not in self._cache:
            self._cache[key] = None  # guards against a cycle while evaluating
            self._cache[key] = self._evaluate(name, site)
        return self._cache[key]

    def call_scope(self, body: tuple[int, int], call_pos: int, args: list[str]) -> ScriptVars:
        """The variables as a shell function whose body spans `body` sees them when called at
        `call_pos` with `args`: `$1`.. are the arguments, names set inside the body before a position
        keep their own values, and every other name has its value at the call (dynamic scope)."""
        return _CallScope(self, body, call_pos, args)

    def _evaluate(self, name: str, site: tuple[int, str, int]) -> Value:
        pos, kind, value_pos = site
        self._evals += 1
        if kind == "unknown" or self._evals > _MAX_EVALS:
            if kind == "unknown":
                line = self._text.count("\n", 0, pos) + 1
                self.reasons.setdefault(name, f"it is set by a loop or `read` at line {line}")
            return None
        if kind == "element":
            return self._element(name, site)
        if kind == "herestring":
            return self._here_read(name, site)
        if kind == "printf":
            return self._printf(name, site)
        if kind == "default":
            earlier = self.lookup(name, pos)
            if earlier:
                return earlier
            return self._default_value(value_pos)
        text = self._text
        if value_pos < len(text) and text[value_pos] == "(":
            tokens, _ = read_array(text, value_pos)
            if tokens and all(_KEYED.match(t.raw) for t in tokens):
                table = self._table(tokens)
                return self._append(name, pos, table) if kind == "append" and table is not None else table
            items: list[str] = []
            for tok in tokens:
                for w in self.expander.words(tok):
                    if not w.known and not informative(w.value):
                        return None
                    items.append(w.value)
            return self._append(name, pos, items) if kind == "append" else items
        word = read_word(text, value_pos)
        if word is None:
            value = ""
        else:
            words = self.expander.words(word)
            value = " ".join(w.value for w in words)  # no word splitting in an assignment
            if not all(w.known for w in words) and not informative(value):
                why = _why_unset(word.raw)
                if why is not None:
                    self.reasons.setdefault(name, why)
                return None  # e.g. MODEL=$1: unknown; MODEL=/scratch/$USER/m keeps its known parts
        return self._append(name, pos, value) if kind == "append" else value

    def _here_read(self, name: str, site: tuple[int, str, int]) -> Value:
        """`read -r A B <<< "x y z"`: fields split on blanks, the last name taking the rest."""
        pos, _, after = site
        text = self._text
        start = text.rfind("\n", 0, pos) + 1
        m = _HERE_STRING.match(text, after)
        if m is None:
            return None
        head = text[start : m.end()].rstrip()[:-3]  # up to `<<<`
        parts = _HEAD_SPLIT.split(head)
        at = len(parts) - 1 - parts[::-1].index("read") if "read" in parts else len(parts)
        names = [w for w in parts[at + 1 :] if w and not w.startswith("-")]
        word = read_word(text, m.end())
        words = self.expander.words(word) if word is not None else []
        if not words or not all(w.known for w in words) or name not in names:
            line = text.count("\n", 0, pos) + 1
            self.reasons.setdefault(name, f"it is read from a here-string the script does not fix at line {line}")
            return None
        k = names.index(name)
        fields = " ".join(w.value for w in words).split(None, len(names) - 1)
        return fields[k] if k < len(fields) else ""

    def _printf(self, name: str, site: tuple[int, str, int]) -> Value:
        """`printf -v NAME FORMAT ARG...` with `%s`/`%d` formats and known arguments."""
        text = self._text
        tokens, _ = read_command_line(text, site[2])
        values: list[str] = []
        for tok in tokens[: _MAX_PRINTF_ARGS + 1]:
            if tok.kind != "word":
                break
            words = self.expander.words(tok)
            if not all(w.known for w in words):
                self.reasons.setdefault(name, "it is formatted by printf from values the script does not fix")
                return None
            values.append(" ".join(w.value for w in words))
        if not values:
            return None
        fmt, args = values[0], values[1:]
        specs = [m.group() for m in _PRINTF_SPEC.finditer(fmt)]
        if "\\" in fmt or fmt.count("%") != sum(sp.count("%") for sp in specs):
            return None  # escapes, widths, precisions: not followed
        if len(args) > sum(sp != "%%" for sp in specs):
            return None  # printf reuses the format for extra arguments: not followed
        it = iter(args)
        return _PRINTF_SPEC.sub(lambda m: "%" if m.group() == "%%" else next(it, ""), fmt)

    def _append(self, name: str, pos: int, value: str | list[str] | dict[str, str]) -> Value:
        earlier = self.lookup(name, pos)
        if earlier is None:
            return None
        if isinstance(value, dict):
            return {**earlier, **value} if isinstance(earlier, dict) else None
        if isinstance(earlier, dict):
            return None
        if isinstance(value, list):
            return (earlier if isinstance(earlier, list) else [earlier]) + value
        return (earlier if isinstance(earlier, str) else " ".join(earlier)) + value

    def _table(self, tokens: list[Token]) -> dict[str, str] | None:
        """`([small]=Qwen/Qwen3-8B [large]=Qwen/Qwen3-32B)`: a table of known keys and values."""
        table: dict[str, str] = {}
        for tok in tokens:
            m = _KEYED.match(tok.raw)
            assert m is not None
            key_words = self.expander.words(Token("word", m.group(1), tok.start, tok.start))
            words = self.expander.words(Token("word", tok.raw[m.end() :], tok.start, tok.end))
            if not all(w.known for w in key_words):
                return None
            value = " ".join(w.value for w in words)
            if all(w.known for w in words) or informative(value):
                table[" ".join(w.value for w in key_words)] = value
            # else: an entry the script does not fix; looking it up stays unknown
        return table

    def _element(self, name: str, site: tuple[int, str, int]) -> Value:
        """`MAP[key]=value` (or `ARR[2]=value`): the table before it, with that entry set."""
        pos, _, value_pos = site
        m = _ELEMENT.match(self._text, pos + len(name))
        if m is None:  # pragma: no cover - indexed by the same pattern
            return None
        key_words = self.expander.words(Token("word", m.group(1), pos, pos))
        word = read_word(self._text, value_pos)
        words = self.expander.words(word) if word is not None else []
        value = " ".join(w.value for w in words)
        if not all(w.known for w in key_words) or (
            not all(w.known for w in words) and not informative(value)
        ):
            return None
        key = " ".join(w.value for w in key_words)
        earlier = self.lookup(name, pos)
        if isinstance(earlier, list) and key.isdigit():
            items = list(earlier)
            k = int(key)
            items.extend([""] * (k + 1 - len(items)))
            items[k] = (items[k] + value) if m.group(2) == "+=" else value
            return items
        table = dict(earlier) if isinstance(earlier, dict) else {}
        table[key] = (table.get(key, "") + value) if m.group(2) == "+=" else value
        return table

    def _default_value(self, brace_pos: int) -> Value:
        # `${NAME:=default}` with NAME unset: the default, itself expanded, is the value
        m = _DEFAULT_ASSIGN.match(self._text, brace_pos)
        if m is None:  # pragma: no cover - indexed by the same regex
            return None
        words = self.expander.words(Token("word", m.group(2), brace_pos, brace_pos))
        if not all(w.known for w in words):
            return None
        return " ".join(w.value for w in words)


def _why_unset(raw: str) -> str | None:
    """Why an assignment's value `raw` is not known, where its shape says."""
    if "SLURM_ARRAY_TASK_ID" in raw:
        return (
            "each task of the job array picks its own value by $SLURM_ARRAY_TASK_ID, and the script "
            "does not give them all the same one"
        )
    m = _SCRIPT_ARG.search(raw)
    if m is not None:
        return f"it is the script's argument ${m.group(1)}, given on the sbatch command line"
    return None


class _CallScope(ScriptVars):
    """`ScriptVars` inside one call of a shell function: shares the assignment index of the script,
    keeps its own cache (the same `local x=$1` means something else in another call)."""

    def __init__(self, base: ScriptVars, body: tuple[int, int], call_pos: int, args: list[str]) -> None:
        self._text = base._text
        self._slurm = base._slurm
        self._sites = base._sites
        self._cache = {}
        self._blocks = base._blocks
        self._evals = base._evals
        self.reasons = base.reasons
        self._sourced = base._sourced
        self._base = base
        self._body = body
        self._call = call_pos
        self._args = args
        self.expander = Expander(self.lookup, base.expander.gpus_per_node)

    def lookup(self, name: str, pos: int) -> Value:
        start, end = self._body
        if not start <= pos < end:
            return self._base.lookup(name, pos)
        if name.isdigit():
            k = int(name)
            return None if k == 0 else (self._args[k - 1] if k <= len(self._args) else "")
        if name in ("@", "*"):
            return list(self._args)
        if name == "#":
            return str(len(self._args))
        site = self._site_before(name, pos, start) if _NAME.match(name) else None
        if site is not None:
            return self._value(name, site)
        return self._base.lookup(name, self._call)


_GENERIC = "the script does not fix its value (it comes from the caller, a loop or a condition)"
_VAR_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def explain(lines: list[str], env: ScriptVars) -> list[str]:
    """`lines` (what could not be read), each with the specific reason its variable is unknown when
    the variables know one (`$MODEL`: the branches of the if at line 12 set it to different values)."""
    out: list[str] = []
    for line in lines:
        if _GENERIC in line:
            names = _VAR_REF.findall(line.split(":", 1)[0])
            why = next((env.reasons[n] for n in names if n in env.reasons), None)
            if why is not None:
                line = line.replace(_GENERIC, why)
        out.append(line)
    return out
