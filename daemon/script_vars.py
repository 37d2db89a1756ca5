"""Shell variables a reader of a batch script can know: assignments made earlier in the script
(`MODEL=...`, `export MODEL_NAME="..."`, `ARGS=(...)`, `: ${MODEL:=...}`), and the `SLURM_*`
variables that the script's own `#SBATCH` request fixes. A variable set by a loop, by `read`, by a
sourced file or by the caller is unknown, never guessed.

Assignments are found with one linear regex pass and evaluated lazily, only for the names the vLLM
command uses, so a long script costs little."""

from __future__ import annotations

import re
from bisect import bisect_left

from omnipilot.daemon.shell_words import Expander, Token, informative, read_array, read_word

_ASSIGN = re.compile(
    r"(?:^|[;&|({]|\bthen\b|\bdo\b|\belse\b)[ \t]*"
    r"(?:(?:export|declare|typeset|local|readonly)(?:[ \t]+-[A-Za-z]+)*[ \t]+)?"
    r"([A-Za-z_][A-Za-z0-9_]*)(\+?)=",
    re.M,
)
_DEFAULT_ASSIGN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=([^}\n]*)\}")
_UNKNOWABLE = re.compile(
    r"\bfor[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]+in\b|\bread\b(?:[ \t]+-[A-Za-z]+)*[ \t]+([A-Za-z_]\w*)"
)

Value = str | list[str] | None
_MAX_EVALS = 256  # bounds the work one parse may spend on variables


class ScriptVars:
    """Look up a variable's value as the script would have it at a position."""

    def __init__(self, text: str, slurm_env: dict[str, str], gpus_per_node: int | None) -> None:
        self._text = text
        self._slurm = slurm_env
        self._sites: dict[str, list[tuple[int, str, int]]] = {}  # name -> [(pos, kind, value_pos)]
        self._cache: dict[tuple[str, int], Value] = {}
        self._evals = 0
        self.expander = Expander(self.lookup, gpus_per_node)
        self._index()

    def _index(self) -> None:
        for m in _ASSIGN.finditer(self._text):
            kind = "append" if m.group(2) else "set"
            self._sites.setdefault(m.group(1), []).append((m.start(1), kind, m.end()))
        for m in _DEFAULT_ASSIGN.finditer(self._text):
            self._sites.setdefault(m.group(1), []).append((m.start(1), "default", m.start()))
        for m in _UNKNOWABLE.finditer(self._text):
            name = m.group(1) or m.group(2)
            self._sites.setdefault(name, []).append((m.start(), "unknown", m.start()))
        for sites in self._sites.values():
            sites.sort()

    def lookup(self, name: str, pos: int) -> Value:
        """The value of `name` just before offset `pos`; None when the script does not say."""
        sites = self._sites.get(name)
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
