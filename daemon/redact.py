"""Secrets out of everything OmniPilot stores or prints: by pattern and by name.

Job arguments (`sbatch job.sbatch --api-key sk-...`), tag values, environment variables and script
fragments reach the daemon; the decision log, the job's comment (which every user can read with
squeue), explain and the daemon's own log must never carry a token from them. Two rules:

- by pattern, anywhere in any text: Hugging Face tokens (`hf_...`), OpenAI-style keys (`sk-...`),
  GitHub and Slack tokens;
- by name, the value that follows a secret-looking name: `--api-key X`, `--token=X`, `HF_TOKEN=X`,
  `api_key: X`, and the values of mappings (environments) whose keys look like one. A name is secret
  when, written in capitals as environment variables are, it contains TOKEN, SECRET, PASSWORD or
  PASSWD or ends in KEY (`*_KEY`, `*TOKEN*`); otherwise (flags, tag keys) when one of its words, split
  at `-`, `_` or `.`, is token, key, secret, password, passwd or apikey. So `--max-num-batched-tokens`
  and the decision log's own `token` field are not secrets, `--hf-token` is.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted]"

_BY_PATTERN = re.compile(
    r"\b(?:hf_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{8,})"
)
_VALUE = r"(\"[^\"\n]*\"|'[^'\n]*'|[^\s,;\"']+)"
# NAME=value, NAME: value (environment lines, tags, YAML-ish config)
_ASSIGN = re.compile(r"(?<![\w-])(-{0,2}[A-Za-z_][\w.-]*)([ \t]*[=:][ \t]*)" + _VALUE)
# --flag value / -flag value (command lines)
_FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w.-]*)([ \t]+)" + _VALUE)
_SECRET_WORDS = frozenset({"token", "key", "secret", "password", "passwd", "apikey"})
_UPPER_SECRETS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD")
# cheap filter: a text without any of these holds no secret name and skips the name rules
_HINTS = ("key", "token", "secret", "passw")


def is_secret_name(name: str) -> bool:
    bare = name.lstrip("-")
    if not bare:
        return False
    if bare.isupper() or (bare.upper() == bare and any(c.isalpha() for c in bare)):
        return bare.endswith("KEY") or any(word in bare for word in _UPPER_SECRETS)
    return any(word in _SECRET_WORDS for word in re.split(r"[-_.]", bare.lower()))


def _by_name(m: re.Match[str]) -> str:
    if is_secret_name(m.group(1)):
        return m.group(1) + m.group(2) + REDACTED
    # `omnipilot: api_key=X`: a value that is not secret may hold an assignment that is
    inner = m.group(3)
    if "=" in inner or ":" in inner:
        inner = (_ASSIGN_IN_JSON if m.re in _IN_JSON else _ASSIGN).sub(_by_name, inner)
    return m.group(1) + m.group(2) + inner


def redact_text(text: str, keep: tuple[str, ...] = ()) -> str:
    """The text with every secret value replaced by `[redacted]`. Values in `keep` are OmniPilot's
    own (the advice token in `omnipilot explain --token T`, which users must be able to follow)."""
    out = _BY_PATTERN.sub(REDACTED, text)
    low = out.lower()
    if any(h in low for h in _HINTS):
        def by_name(m: re.Match[str]) -> str:
            return m.group(0) if m.group(3) in keep else _by_name(m)

        out = _FLAG.sub(by_name, _ASSIGN.sub(by_name, out))
    return out


def redact_argv(argv: list[Any]) -> list[Any]:
    """A command line: `--api-key X` hides X (the next word), `--token=X` the part after `=`."""
    out: list[Any] = []
    hide_next = False
    for word in argv:
        if not isinstance(word, str):
            out.append(redact(word))
            hide_next = False
            continue
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if word.startswith("-") and "=" not in word and is_secret_name(word):
            hide_next = True
            out.append(word)
            continue
        out.append(redact_text(word))
    return out


def redact(value: Any) -> Any:
    """Any JSON-like value with its secrets replaced: strings by `redact_text`, lists as command
    lines, mappings by key (an environment's `HF_TOKEN` value goes whatever it looks like)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list | tuple):
        return redact_argv(list(value))
    if isinstance(value, dict):
        return {
            k: (REDACTED if isinstance(k, str) and _is_env_name(k) and is_secret_name(k) and v else redact(v))
            for k, v in value.items()
        }
    return value


def _is_env_name(key: str) -> bool:
    # Only keys written as environment variables are judged by name: the records' own fields
    # (token, tokens_per_s, ...) are lowercase and never secrets.
    return key.upper() == key and any(c.isalpha() for c in key)


# The same rules over a JSON text (the decision log's lines): one pass of C regex over the whole line
# instead of a walk over every string of the record. A value never takes a backslash or a quote, so a
# replacement cannot cut a JSON escape in two; an environment-style key's string value goes whole.
_VALUE_IN_JSON = r"([^\s,;\"'\\]+)"
_ASSIGN_IN_JSON = re.compile(r"(?<![\w-])(-{0,2}[A-Za-z_][\w.-]*)([ \t]*[=:][ \t]*)" + _VALUE_IN_JSON)
_FLAG_IN_JSON = re.compile(r"(?<![\w-])(--?[A-Za-z][\w.-]*)([ \t]+)" + _VALUE_IN_JSON)
_IN_JSON = (_ASSIGN_IN_JSON, _FLAG_IN_JSON)
_ENV_KEY_IN_JSON = re.compile(r"\"([A-Z][A-Z0-9_]*)\":\"((?:[^\"\\]|\\.)*)\"")
# a command line stored as a JSON list: "--api-key","VALUE"
_FLAG_ITEM_IN_JSON = re.compile(r"\"(--?[A-Za-z][\w.-]*)\",\"((?:[^\"\\]|\\.)*)\"")


def _env_key(m: re.Match[str]) -> str:
    if not is_secret_name(m.group(1)) or not m.group(2):
        return m.group(0)
    return f'"{m.group(1)}":"{REDACTED}"'


def _flag_item(m: re.Match[str]) -> str:
    if not is_secret_name(m.group(1)):
        return m.group(0)
    return f'"{m.group(1)}","{REDACTED}"'


def redact_patterns(text: str) -> str:
    """Only the pattern rules (cheap over long texts that hold no user-named values)."""
    return _BY_PATTERN.sub(REDACTED, text)


def redact_json(text: str) -> str:
    """A JSON document's text with its secrets replaced; still the same valid JSON."""
    out = _BY_PATTERN.sub(REDACTED, text)
    low = out.lower()
    if any(h in low for h in _HINTS):
        out = _ENV_KEY_IN_JSON.sub(_env_key, out)
        out = _FLAG_ITEM_IN_JSON.sub(_flag_item, out)
        out = _FLAG_IN_JSON.sub(_by_name, _ASSIGN_IN_JSON.sub(_by_name, out))
    return out
