"""The shell word reader: spans, quotes, continuations, and variable expansion."""

from __future__ import annotations

from omnipilot.daemon.jobscript.shell_words import read_command_line, split_commands
from omnipilot.daemon.jobscript.variables import ScriptVars


def _words(text: str, env: dict[str, str] | None = None, pos: int | None = None) -> list[str]:
    sv = ScriptVars(text, env or {}, None)
    start = text.rfind("\n", 0, len(text) - 1) + 1 if pos is None else pos
    tokens, _ = read_command_line(text, start)
    out: list[str] = []
    for cmd in split_commands(tokens):
        for tok in cmd:
            out.extend(w.value for w in sv.expander.words(tok))
        out.append("|")
    return out


def test_spans_point_at_the_source() -> None:
    text = "vllm serve 'a b' \\\n  --x=\"$Y\" > log 2>&1 &\nnext"
    tokens, end = read_command_line(text, 0)
    assert text[end] == "\n" and text[end + 1 :] == "next"
    for t in tokens:
        assert text[t.start : t.end] == t.raw
    assert [t.raw for t in split_commands(tokens)[0]] == ["vllm", "serve", "'a b'", '--x="$Y"']


def test_expansion_forms() -> None:
    text = 'A=1\nB="two words"\nC=(x "y z")\n'
    text += 'echo $A ${B} "$B" ${C[1]} "${C[@]}" ${U:-dflt} $((A+2)) ${B#two } $U\n'
    assert _words(text) == [
        "echo",
        "1",
        "two",
        "words",
        "two words",
        "y",
        "z",
        "x",
        "y z",
        "dflt",
        "3",
        "words",
        "$U",
        "|",
    ]


def test_quotes_and_escapes() -> None:
    assert _words('echo \'a $X\' "b\\"c" d\\ e\n') == ["echo", "a $X", 'b"c', "d e", "|"]


def test_command_separators() -> None:
    assert _words("a && b || c; d | e & f\n") == ["a", "|", "b", "|", "c", "|", "d", "|", "e", "|", "f", "|"]


def test_gpu_count_command_substitution() -> None:
    text = "N=$(nvidia-smi -L | wc -l)\necho $N\n"
    sv = ScriptVars(text, {}, 4)
    assert sv.lookup("N", len(text)) == "4"
    assert ScriptVars(text, {}, None).lookup("N", len(text)) is None
