"""The tag grammar: script directives, comment tags, precedence, opt-out, and error messages."""

from __future__ import annotations

import pytest

from omnipilot.daemon.jobscript.tags import KEYS, parse_tag_text, read_tags


def test_every_key_parses_its_documented_example() -> None:
    examples = {
        "model": ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
        "params": ("7.6", 7.6),
        "family": ("llama3", "llama3"),
        "concurrency": ("64", 64),
        "context": ("8k", 8192),
        "prompt_len": ("1024", 1024),
        "output_len": ("256", 256),
        "slo_ttft_ms": ("2000", 2000.0),
        "precision": ("FP8", "fp8"),
        "tp": ("2", 2),
        "gpu": ("h100", "h100"),
        "engine": ("vLLM", "vllm"),
    }
    assert set(examples) | {"off"} == set(KEYS)
    for key, (raw, want) in examples.items():
        values, errors, off = parse_tag_text(f"{key}={raw}", "script_tag", 3)
        assert errors == [] and not off
        assert values[key].value == want and values[key].source == "script_tag" and values[key].line == 3


def test_script_lines_and_comment_merge_with_script_first() -> None:
    script = "#!/bin/bash\n#OMNIPILOT model=a/b concurrency=8\n#omnipilot: tp=2\n"
    script += "# OMNIPILOT context=4096\nsrun x\n"
    tags = read_tags(script, "my run; omnipilot: concurrency=99, slo_ttft_ms=300 | more words")
    assert tags.values["concurrency"].value == 8 and tags.values["concurrency"].source == "script_tag"
    assert tags.values["slo_ttft_ms"].value == 300.0 and tags.values["slo_ttft_ms"].source == "comment_tag"
    assert tags.values["tp"].value == 2 and tags.values["context"].value == 4096
    assert tags.errors == [] and tags.found


def test_later_script_line_wins() -> None:
    tags = read_tags("#OMNIPILOT tp=2\n#OMNIPILOT tp=4\n", None)
    assert tags.values["tp"].value == 4 and tags.values["tp"].line == 2


def test_quoted_values_and_aliases() -> None:
    tags = read_tags(
        '#OMNIPILOT model="/scratch/me/models/Qwen2.5-7B" tensor_parallel_size=2 quantization=awq\n', None
    )
    assert tags.values["model"].value == "/scratch/me/models/Qwen2.5-7B"
    assert tags.values["tp"].value == 2 and tags.values["precision"].value == "awq"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("concurrency=lots", "concurrency='lots'"),
        ("precision=int4", "awq or gptq"),
        ("tp=0", "tp='0'"),
        ("params=-3", "positive number"),
        ("colour=blue", "unknown key 'colour'"),
        ("model", "not key=value"),
        ("context=", "context=''"),
        ("tp=128", "1 to 64"),
    ],
)
def test_bad_tags_become_messages_naming_key_and_form(text: str, fragment: str) -> None:
    tags = read_tags(f"#OMNIPILOT {text} concurrency=4\n", None)
    assert len(tags.errors) == 1 and fragment in tags.errors[0], tags.errors
    assert tags.errors[0].startswith("#OMNIPILOT line 1:")
    assert tags.values["concurrency"].value == 4 or text.startswith("concurrency")


def test_comment_errors_say_where() -> None:
    tags = read_tags(None, "omnipilot: tp=two")
    assert tags.errors and tags.errors[0].startswith("--comment omnipilot:")


@pytest.mark.parametrize(
    ("script", "comment", "off"),
    [
        ("#OMNIPILOT off\n", None, True),
        ("#OMNIPILOT off=yes model=x\n", None, True),
        ("#OMNIPILOT off=false\n", None, False),
        (None, "omnipilot: off", True),
        ("#OMNIPILOT concurrency=3\n", None, False),
    ],
)
def test_opt_out(script: str | None, comment: str | None, off: bool) -> None:
    assert read_tags(script, comment).opted_out is off


def test_prose_and_trailing_comments_are_not_directives() -> None:
    script = "# OmniPilot will advise this job\necho hi  #OMNIPILOT tp=2\n#OMNIPILOTX tp=3\n"
    tags = read_tags(script, "advice from omnipilot suggest: h100x1 fp8 tp1")
    assert tags.values == {} and tags.errors == [] and not tags.found
