"""Shell variables a reader of a batch script can know: assignments made earlier in the script
(`MODEL=...`, `export MODEL_NAME="..."`, `ARGS=(...)`, `: ${MODEL:=...}`), and the `SLURM_*`
variables that the script's own `#SBATCH` request fixes. A variable set by a loop, by `read`, by a
sourced file or by the caller is unknown, never guessed.

Assignments are looked for lazily, only for the names the vLLM command uses, and evaluated only
when needed, so a long script costs little."""

from __future__ import annotations

import re
from bisect import bisect_left

from omnipilot.daemon.shell_words import Expander, Token, informative, read_array, read_word

# What may stand before `NAME=` on its line for it to be an assignment: nothing, a command
# separator, a compound-command keyword, or a declaration builtin with its flags.
_ASSIGN_PREFIX = re.compile(
    r"(?:.*(?:[;&|({]|\bthen|\bdo|\belse))?[ \t]*"
    r"(?:(?:export|declare|typeset|local|readonly)(?:[ \t]+[^\s;&|]+)*?[ \t]+)?"  # `export A=1 B=2`
)
_DEFAULT_ASSIGN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=((?:[^{}\n]|\$\{[^{}\n]*\})*)\}")
_FOR_PREFIX = re.compile(r".*\bfor[ \t]+")
_READ_PREFIX = re.compile(r".*\bread\b(?:[ \t]+-?[A-Za-z_]\w*)*[ \t]+")
_MAX_SITES = 64  # occurrences of one name examined: a hostile script cannot make lookups slow
_MAX_LINE = 400  # a prefix this long is not an assignment context worth parsing

Value = str | list[str] | None
_MAX_EVALS = 256  # bounds the work one parse may spend on variables


def _word_char(text: str, k: int) -> bool:
    return 0 <= k < len(text) and (text[k].isalnum() or text[k] == "_")


class ScriptVars:
    """Look up a variable's value as the script would have it at a position."""

    def __init__(self, text: str, slurm_env: dict[str, str], gpus_per_node: int | None) -> None:
        self._text = text
        self._slurm = slurm_env
        self._sites: dict[str, list[tuple[int, str, int]]] = {}  # name -> [(pos, kind, value_pos)]
        self._cache: dict[tuple[str, int], Value] = {}
        self._evals = 0
        self.expander = Expander(self.lookup, gpus_per_node)

    def _index(self, name: str) -> list[tuple[int, str, int]]:
        """Where `name` is set: one literal search for the name (fast in C), each hit then judged
        by the few characters around it."""
        text = self._text
        sites: list[tuple[int, str, int]] = []
        for hits, m in enumerate(re.finditer(re.escape(name), text)):
            i, j = m.start(), m.end()
            if len(sites) >= _MAX_SITES or hits >= 64 * _MAX_SITES:
                return [*sites, (i, "unknown", i)]  # past here the value is not worth knowing
            if _word_char(text, i - 1) or _word_char(text, j):
                continue
            site = self._judge(name, i, j)
            if site is not None:
                sites.append(site)
        return sites

    def _judge(self, name: str, i: int, j: int) -> tuple[int, str, int] | None:
        text = self._text
        line = text[max(text.rfind("\n", 0, i) + 1, i - _MAX_LINE) : i]
        if text.startswith("=", j) or text.startswith("+=", j):
            if _ASSIGN_PREFIX.fullmatch(line) and not line.rstrip().endswith(("$", "{")):
                append = text.startswith("+=", j)
                return (i, "append" if append else "set", j + (2 if append else 1))
            if line.endswith("${"):
                return (i, "default", i - 2)
            return None
        if text.startswith(":=", j) and line.endswith("${"):
            return (i, "default", i - 2)
        if _FOR_PREFIX.fullmatch(line) or _READ_PREFIX.fullmatch(line):
            return (i, "unknown", i)
        return None

    def lookup(self, name: str, pos: int) -> Value:
        """The value of `name` just before offset `pos`; None when the script does not say."""
        sites = self._sites.get(name)
        if sites is None:
            sites = self._sites[name] = self._index(name)
        if sites:
            k = bisect_left(sites, (pos, "", 0)) - 1
            if k >= 0:
                site_pos = sites[k][0]
                key = (name, site_pos)
                if key not in self._cache:
                    self._cache[key] = None  # guards against a cycle while evaluating
                    self._cache[key] = self._evaluate(name, sites[k])
                return self._cache[key]
        return self._slurm.get(name)

    def _evaluate(self, name: str, site: tuple[int, str, int]) -> Value:
        pos, kind, value_pos = site
        self._evals += 1
        if kind == "unknown" or self._evals > _MAX_EVALS:
            return None
        if kind == "default":
            earlier = self.lookup(name, pos)
            if earlier:
                return earlier
            return self._default_value(value_pos)
        text = self._text
        if value_pos < len(text) and text[value_pos] == "(":
            tokens, _ = read_array(text, value_pos)
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
                return None  # e.g. MODEL=$1: unknown; MODEL=/scratch/$USER/m keeps its known parts
        return self._append(name, pos, value) if kind == "append" else value

    def _append(self, name: str, pos: int, value: str | list[str]) -> Value:
        earlier = self.lookup(name, pos)
        if earlier is None:
            return None
        if isinstance(value, list):
            return (earlier if isinstance(earlier, list) else [earlier]) + value
        return (earlier if isinstance(earlier, str) else " ".join(earlier)) + value

    def _default_value(self, brace_pos: int) -> Value:
        # `${NAME:=default}` with NAME unset: the default, itself expanded, is the value
        m = _DEFAULT_ASSIGN.match(self._text, brace_pos)
        if m is None:  # pragma: no cover - indexed by the same regex
            return None
        words = self.expander.words(Token("word", m.group(2), brace_pos, brace_pos))
        if not all(w.known for w in words):
            return None
        return " ".join(w.value for w in words)
