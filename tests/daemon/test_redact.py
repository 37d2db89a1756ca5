"""Secrets never stored or printed; OmniPilot's own advice token stays readable."""

from __future__ import annotations

from omnipilot.daemon.redact import REDACTED, redact_text


def test_secret_values_are_redacted_by_name_and_pattern() -> None:
    text = "vllm serve m --api-key sk-abcdefghijkl --hf-token hf_abcdefghijklmnop HF_TOKEN=xyz --max-num-batched-tokens 8192"
    out = redact_text(text)
    assert "sk-abcdefghijkl" not in out and "hf_abcdefghijklmnop" not in out and "xyz" not in out
    assert out.count(REDACTED) == 3
    assert "--max-num-batched-tokens 8192" in out  # not a secret name


def test_the_advice_token_in_the_explain_hint_is_kept() -> None:
    hint = "details: omnipilot explain --token yqta75fu"
    assert redact_text(hint) == f"details: omnipilot explain --token {REDACTED}"  # unknown: redacted
    assert redact_text(hint, ("yqta75fu",)) == hint
    # keeping the token keeps only that value
    assert "s3cr3t" not in redact_text(hint + " --token s3cr3t", ("yqta75fu",))
