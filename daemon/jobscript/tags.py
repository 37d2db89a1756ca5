"""The tag grammar: how a user tells OmniPilot about a job.

Two places, strongest first: `#OMNIPILOT key=value ...` lines anywhere in the batch script, and
`--comment "omnipilot: key=value ..."`. `#OMNIPILOT off` (or `omnipilot: off`) opts the job out.
A malformed tag never raises: it becomes a message that names the key, the value and the accepted
form, and the rest of the tags still count. See docs/tagging.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

TagSource = Literal["script_tag", "comment_tag"]
TagValueType = str | int | float | bool

# `#OMNIPILOT` (any case) right after the hash, or `# OMNIPILOT` in capitals: prose such as
# "# OmniPilot will advise this job" is not a directive.
# The pattern starts with a literal '#', so the search runs at C speed over long scripts.
_SCRIPT_TAG = re.compile(
    r"#(?:[Oo][Mm][Nn][Ii][Pp][Ii][Ll][Oo][Tt]|[ \t]+OMNIPILOT)(?![A-Za-z0-9_])[ \t]*:?([^\n]*)"
)
# In a comment the tags follow "omnipilot:" and end at ';', '|' or the end: the rest is the user's.
_COMMENT_TAG = re.compile(r"(?i:\bomnipilot)[ \t]*:([^;|\n]*)")
# `key=value`; a value may be quoted; a blank after '=' means an empty value, not the next item
_ITEM = re.compile(r"""([^\s=,]+)(?:[ \t]*=("[^"]*"|'[^']*'|[^\s,]*))?""")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")

PRECISION_ALIASES = {
    "bf16": "bf16", "bfloat16": "bf16", "fp16": "bf16", "float16": "bf16", "half": "bf16", "16bit": "bf16",
    "fp8": "fp8", "float8": "fp8", "w8a8": "fp8", "awq": "awq", "gptq": "gptq", "int4": None,
}  # fmt: skip
_TRUE = {"1", "true", "yes", "on", ""}
# Bounds on the work one job's tags may cost the daemon (the request path answers within the hook's
# 50 ms): a real job has a handful of tag lines; beyond these the rest are ignored, with one message.
MAX_TAG_LINES = 64
MAX_ITEMS_PER_LINE = 32
MAX_ERRORS = 16
# A bad value is echoed in the message (the user's own stderr and the decision log): no more than this
_SHOWN_VALUE_CHARS = 40
_FALSE = {"0", "false", "no"}


class TagValue(BaseModel):
    """One tag's value and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: TagValueType
    source: TagSource
    line: int | None = None  # 1-based script line for script tags


class TagSet(BaseModel):
    """Tags of one job, merged: a script tag wins over a comment tag of the same key."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, TagValue] = {}
    errors: list[str] = []
    opted_out: bool = False
    found: bool = False  # any tag line or comment tag at all, even an empty or bad one


def _positive_int(raw: str) -> int:
    value = _size(raw)
    if value is None or value <= 0 or value != int(value):
        raise ValueError("a positive whole number (k = 1024 allowed: 8k)")
    return int(value)


def _positive_float(raw: str) -> float:
    try:
        value = float(raw.rstrip("bB") if raw[-1:] in "bB" else raw)
    except ValueError:
        raise ValueError("a positive number") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError("a positive number")
    return value


def _size(raw: str) -> float | None:
    m = _SIZE.match(raw)
    if m is None:
        return None
    mult = {"": 1, "k": 1024, "K": 1024, "m": 1024**2, "M": 1024**2}[m.group(2)]
    return float(m.group(1)) * mult


def _precision(raw: str) -> str:
    value = PRECISION_ALIASES.get(raw.lower().replace("-", ""))
    if value is None:
        raise ValueError("one of bf16, fp8, awq, gptq (int4 is ambiguous: say awq or gptq)")
    return value


def _tp(raw: str) -> int:
    value = _positive_int(raw)
    if value > 64:
        raise ValueError("a tensor-parallel degree from 1 to 64")
    return value


def _name(raw: str) -> str:
    if not raw or any(c.isspace() for c in raw):
        raise ValueError("a name without spaces")
    return raw


def _engine(raw: str) -> str:
    return _name(raw).lower()


def _flag(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError("off, off=true or off=false")


# key -> (parser, accepted form shown in messages)
KEYS: dict[str, tuple[Callable[[str], TagValueType], str]] = {
    "model": (_name, "a Hugging Face name or a path, e.g. model=Qwen/Qwen2.5-7B-Instruct"),
    "params": (_positive_float, "billions of parameters, e.g. params=7.6"),
    "family": (_name, "a model family, e.g. family=llama3"),
    "concurrency": (_positive_int, "concurrent requests, e.g. concurrency=64"),
    "context": (_positive_int, "tokens per request (prompt + output), e.g. context=8192 or context=8k"),
    "prompt_len": (_positive_int, "prompt tokens, e.g. prompt_len=1024"),
    "output_len": (_positive_int, "output tokens, e.g. output_len=256"),
    "slo_ttft_ms": (_positive_float, "time to first token target in ms, e.g. slo_ttft_ms=2000"),
    "precision": (_precision, "precision=bf16|fp8|awq|gptq"),
    "tp": (_tp, "tensor-parallel degree, e.g. tp=2"),
    "gpu": (_name, "a GPU kind from etc/gpus.toml, e.g. gpu=h100"),
    "engine": (_engine, "the serving engine, e.g. engine=vllm"),
    "off": (_flag, "off (opt this job out of OmniPilot)"),
}
_KEY_ALIASES = {"tensor_parallel": "tp", "tensor_parallel_size": "tp", "quantization": "precision",
                "max_model_len": "context", "ttft_ms": "slo_ttft_ms", "slo_ttft": "slo_ttft_ms",
                "prompt": "prompt_len", "output": "output_len", "input_len": "prompt_len",
                "params_b": "params", "gpus": "gpu", "ctx": "context"}  # fmt: skip


def _shown(raw: str) -> str:
    """A bad value as the message quotes it: cut short (it is stored and printed)."""
    cut = raw[:_SHOWN_VALUE_CHARS] + ("..." if len(raw) > _SHOWN_VALUE_CHARS else "")
    return "'" + cut.replace("'", "") + "'"


def parse_tag_text(
    text: str, source: TagSource, line: int | None = None
) -> tuple[dict[str, TagValue], list[str], bool]:
    """Parse `key=value` items (separated by spaces or commas). Returns (values, errors, opted_out)."""
    values: dict[str, TagValue] = {}
    errors: list[str] = []
    where = f"#OMNIPILOT line {line}" if source == "script_tag" else "--comment omnipilot:"
    for n, m in enumerate(_ITEM.finditer(text)):
        if n >= MAX_ITEMS_PER_LINE:
            errors.append(f"{where}: more than {MAX_ITEMS_PER_LINE} items; the rest are ignored")
            break
        key, raw = m.group(1)[:_SHOWN_VALUE_CHARS], m.group(2)
        norm = key.lower().replace("-", "_")
        norm = _KEY_ALIASES.get(norm, norm)
        if raw is None and norm != "off":
            errors.append(f"{where}: '{key}' is not key=value; write e.g. model=Qwen/Qwen2.5-7B-Instruct")
            continue
        if norm not in KEYS:
            known = ", ".join(KEYS)
            errors.append(f"{where}: unknown key '{key}'; known keys: {known}")
            continue
        raw = (raw or "").strip("\"'")
        parser, form = KEYS[norm]
        try:
            value = parser(raw)
        except (ValueError, IndexError) as exc:
            errors.append(f"{where}: {key}={_shown(raw)} is not valid: expected {exc}; accepted form: {form}")
            continue
        values[norm] = TagValue(value=value, source=source, line=line)
    opted_out = bool(values.pop("off").value) if "off" in values else False
    return values, errors, opted_out


def read_tags(script: str | None, comment: str | None) -> TagSet:
    """All tags of a job: script `#OMNIPILOT` lines (later lines win over earlier ones), then the
    comment's `omnipilot:` part, which fills only keys the script did not set."""
    tags = TagSet()
    if script:
        lines_seen, line, counted_to = 0, 1, 0
        for m in _SCRIPT_TAG.finditer(script):
            before = script[script.rfind("\n", 0, m.start()) + 1 : m.start()]
            if before.strip(" \t"):
                continue  # a directive is a whole line, not a trailing comment
            lines_seen += 1
            if lines_seen > MAX_TAG_LINES:
                tags.errors.append(f"more than {MAX_TAG_LINES} #OMNIPILOT lines: the rest are ignored")
                break
            line += script.count("\n", counted_to, m.start())  # counted once over the whole script
            counted_to = m.start()
            values, errors, off = parse_tag_text(m.group(1), "script_tag", line)
            tags.found = True
            tags.values.update(values)
            tags.errors.extend(errors)
            tags.opted_out = tags.opted_out or off
    if comment:
        for n, m in enumerate(_COMMENT_TAG.finditer(comment)):
            if n >= MAX_TAG_LINES:
                tags.errors.append(f"more than {MAX_TAG_LINES} omnipilot: parts in the comment: the rest are ignored")
                break
            values, errors, off = parse_tag_text(m.group(1), "comment_tag")
            tags.found = True
            for key, value in values.items():
                tags.values.setdefault(key, value)
            tags.errors.extend(errors)
            tags.opted_out = tags.opted_out or off
    if len(tags.errors) > MAX_ERRORS:
        more = len(tags.errors) - MAX_ERRORS
        tags.errors = [*tags.errors[:MAX_ERRORS], f"... and {more} more tag problems"]
    return tags
