"""The flags of one recognised vLLM server command: what the user asked vLLM for, where each flag
stands in the script (for enforce's rewrite), and what could not be known from the text."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from omnipilot.daemon.jobscript.launch_wrappers import Launch
from omnipilot.daemon.jobscript.shell_words import Word, informative

_ALIASES = {"tp": "tensor-parallel-size", "pp": "pipeline-parallel-size", "dp": "data-parallel-size",
            "q": "quantization"}  # fmt: skip
# Flags that take no value. Any other flag is read as taking the next word, unless it starts with '-'.
_BOOLEAN = {
    "trust-remote-code", "enforce-eager", "enable-prefix-caching", "no-enable-prefix-caching",
    "disable-log-requests", "disable-log-stats", "enable-chunked-prefill", "no-enable-chunked-prefill",
    "enable-auto-tool-choice", "headless", "enable-lora", "enable-expert-parallel",
    "disable-custom-all-reduce", "enable-reasoning", "disable-frontend-multiprocessing",
    "use-v2-block-manager", "enable-sleep-mode", "disable-fastapi-docs", "skip-tokenizer-init",
    "enable-prompt-tokens-details", "disable-sliding-window", "enable-log-requests", "no-enable-log-requests",
    "return-tokens-as-token-ids", "enable-server-load-tracking", "disable-uvicorn-access-log",
    "enable-request-id-headers", "async-scheduling", "no-async-scheduling", "enable-force-include-usage",
    "enable-tokenizer-info-endpoint", "enable-log-outputs", "disable-async-output-proc", "enable-eplb",
    "enable-dbo",
}  # fmt: skip
_INT_FLAGS = (
    ("tensor-parallel-size", "tp"), ("pipeline-parallel-size", "pp"), ("data-parallel-size", "dp"),
    ("max-num-seqs", "max_num_seqs"), ("nnodes", "nnodes"),
)  # fmt: skip
_TEXT_FLAGS = (
    ("quantization", "quantization"), ("dtype", "dtype"), ("kv-cache-dtype", "kv_cache_dtype"),
    ("served-model-name", "served_model_name"), ("tokenizer", "tokenizer"),
    ("distributed-executor-backend", "distributed_executor_backend"), ("config", "config_file"),
)  # fmt: skip
_POOLING_VALUES = {"embed", "embedding", "score", "classify", "reward", "pooling"}
_MULTI = {"served-model-name", "allowed-origins", "middleware", "lora-modules"}
_HUMAN = re.compile(r"^(\d+(?:\.\d+)?)([kmgKMG]?)$")


class Span(BaseModel):
    """Character offsets [start, end) in the script, and the 1-based line of `start`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: int
    end: int


class FlagUse(BaseModel):
    """Where one flag stands: the option word, and the value (inside the option word when written
    `--flag=value`). `literal` is False when the value came from a variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    option: Span
    value: Span | None
    text: str | None
    literal: bool
    count: int = 1


class VllmCommand(BaseModel):
    """One vLLM server command as written, flags resolved where the script lets a reader resolve them."""

    model_config = ConfigDict(extra="forbid")

    entry: str
    launchers: list[str] = []
    model: str | None = None
    model_known: bool = True
    model_literal: bool = True
    tokenizer: str | None = None
    served_model_name: str | None = None
    tp: int | None = None
    pp: int | None = None
    dp: int | None = None
    quantization: str | None = None
    dtype: str | None = None
    kv_cache_dtype: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    gpu_memory_utilization: float | None = None
    nnodes: int | None = None
    headless: bool = False
    distributed_executor_backend: str | None = None
    config_file: str | None = None
    # `--task embed`, `--runner pooling`, `--convert classify`: the server embeds or scores, it does not generate
    pooling: str | None = None
    srun_nodes: int | None = None
    flags: dict[str, FlagUse] = {}
    model_span: Span | None = None
    insert_at: int = 0  # where a new flag can be inserted (right after the model / entry word)
    span: Span
    line_start: int = 0
    line_end: int = 0
    hidden_args: list[str] = []  # words from variables that may carry flags (e.g. $EXTRA_ARGS)
    unresolved: list[str] = []  # e.g. "--tensor-parallel-size $NGPU: $NGPU is not set in the script"
    in_heredoc: bool = False
    in_function: bool = False
    in_string: bool = False


def _hits(
    args: list[Word], positional: bool
) -> tuple[dict[str, list[tuple[Word, Word | None, str]]], Word | None, list[Word]]:
    """(flag -> [(option word, value word, value text)], positional model word, words with no flag)."""
    flags: dict[str, list[tuple[Word, Word | None, str]]] = {}
    model: Word | None = None
    loose: list[Word] = []
    k = 0
    while k < len(args):
        w = args[k]
        k += 1
        v = w.value
        if not v.startswith("-") or v in ("-", "--") or (not w.known and w.split):
            # `vllm serve MODEL`: the first word after `serve`, even when it is an unknown $VAR
            if positional and model is None and not v.startswith("-") and (k == 1 or not w.split):
                model = w
            else:
                loose.append(w)
            continue
        name, eq, inline = v.lstrip("-").partition("=")
        name = name.replace("_", "-")
        name = _ALIASES.get(name, name) if v.startswith("-") and not v.startswith("--") else name
        if eq:
            flags.setdefault(name, []).append((w, w, inline))
        elif name in _BOOLEAN or k >= len(args) or args[k].value.startswith("-"):
            flags.setdefault(name, []).append((w, None, ""))
        else:
            values = [args[k]]
            k += 1
            while name in _MULTI and k < len(args) and not args[k].value.startswith("-"):
                values.append(args[k])
                k += 1
            flags.setdefault(name, []).append((w, values[0], values[0].value))
    return flags, model, loose


def build_command(launch: Launch, in_heredoc: bool, in_function: bool, in_string: bool) -> VllmCommand:
    """Read a server `Launch`'s arguments into a `VllmCommand`."""
    positional = launch.positional
    flags, model_word, loose = _hits(launch.args, positional)
    entry = launch.entry
    words = [w for w in (entry, *launch.args) if w is not None]
    cmd = VllmCommand(
        entry=launch.detail,
        launchers=launch.launchers,
        span=Span(start=min(w.start for w in words), end=max(w.end for w in words)),
        srun_nodes=launch.srun_nodes,
        in_heredoc=in_heredoc,
        in_function=in_function,
        in_string=in_string,
        insert_at=entry.end if entry is not None else 0,
    )
    hidden = [w.raw for w in loose if w.split or not w.known]
    hidden += [opt.raw for hits in flags.values() for opt, _, _ in hits if opt.split]
    cmd.hidden_args = list(dict.fromkeys(hidden))
    _read_model(cmd, flags, model_word)
    _read_values(cmd, flags)
    cmd.flags = {name: _use(hits) for name, hits in flags.items()}
    return cmd


def _read_model(
    cmd: VllmCommand, flags: dict[str, list[tuple[Word, Word | None, str]]], model_word: Word | None
) -> None:
    hit: tuple[Word, Word | None, str] | None = None
    if "model" in flags:
        hit = flags["model"][-1]
    elif model_word is not None:
        hit = (model_word, model_word, model_word.value)
        cmd.model_span = Span(start=model_word.start, end=model_word.end)
        cmd.insert_at = model_word.end
    if hit is None or hit[1] is None:
        return
    word = hit[1]
    # `.../snapshots/<hash>/` and `.../snapshots/<hash>` are one directory (a hub id has no slash at
    # its end): the path is kept without it, so the catalog, the config.json reader and the
    # container mounts see one spelling
    cmd.model = hit[2].rstrip("/") or hit[2]
    cmd.model_known = word.known or informative(hit[2])
    cmd.model_literal = not word.expanded
    if not cmd.model_known:
        cmd.unresolved.append(f"model {_raw_value(hit[0], word)}: {why_unknown(word.raw)}")
    elif word.expanded and picked_snapshot(cmd.model):
        cmd.unresolved.append(
            f"model {_raw_value(hit[0], word)}: a snapshot of a Hugging Face cache folder, picked when the job "
            "runs; the folder names the model, read for advice only (enforce does not replace it)"
        )


def picked_snapshot(model: str | None) -> bool:
    """A model read as `<cache>/models--ORG--NAME/snapshots/*`: which snapshot runs is not known."""
    return model is not None and model.endswith("/snapshots/*") and "/models--" in model


def _read_values(cmd: VllmCommand, flags: dict[str, list[tuple[Word, Word | None, str]]]) -> None:
    for name, attr in _INT_FLAGS:
        text = _last(flags, name, cmd)
        if text is not None:
            setattr(cmd, attr, _int(text, name, cmd))
    text = _last(flags, "max-model-len", cmd)
    if text is not None:
        cmd.max_model_len = _human_int(text, cmd)
    text = _last(flags, "gpu-memory-utilization", cmd)
    if text is not None:
        try:
            cmd.gpu_memory_utilization = float(text)
        except ValueError:
            cmd.unresolved.append(f"--gpu-memory-utilization {text}: not a number")
    for name, attr in _TEXT_FLAGS:
        text = _last(flags, name, cmd)
        if text is not None:
            lower = attr in ("quantization", "dtype", "kv_cache_dtype")
            setattr(cmd, attr, text.lower() if lower else text)
    cmd.headless = "headless" in flags
    for name in ("task", "runner", "convert"):
        text = _last(flags, name, cmd)
        if text is not None and text.lower() in _POOLING_VALUES:
            cmd.pooling = f"--{name} {text}"
    config = flags.get("config", [])
    if cmd.config_file is None and config and config[-1][1] is not None:
        # `--config $HOME/serve.yaml`: which file is not known, but flags still come from one
        cmd.config_file = _raw_value(config[-1][0], config[-1][1])
    if cmd.config_file:
        cmd.unresolved.append(f"--config {cmd.config_file}: flags in that file are not read")


def _last(flags: dict[str, list[tuple[Word, Word | None, str]]], name: str, cmd: VllmCommand) -> str | None:
    """The value vLLM uses (argparse: the last occurrence wins); None when absent or unknown."""
    if name not in flags:
        return None
    _, value, text = flags[name][-1]
    if value is None:
        return None
    if not value.known:
        cmd.unresolved.append(f"--{name} {_raw_value(flags[name][-1][0], value)}: {why_unknown(value.raw)}")
        return None
    return text


def why_unknown(raw: str) -> str:
    """Why a word's value cannot be known from the script text."""
    if "$(" in raw or "`" in raw:
        return "it is computed by a command when the job runs"
    if "SLURM_" in raw:
        return "Slurm sets it from the job's request, which the script's #SBATCH lines do not state"
    return "the script does not fix its value (it comes from the caller, a loop or a condition)"


def _raw_value(option: Word, value: Word) -> str:
    """The value as written: for `--flag=$(cmd)` the part after '='."""
    raw: str = option.raw if value is option else value.raw
    return raw.split("=", 1)[1] if value is option and "=" in raw else raw


def _int(text: str, name: str, cmd: VllmCommand) -> int | None:
    if text.strip().isdigit():
        return int(text)
    cmd.unresolved.append(f"--{name} {text}: not a whole number")
    return None


def _human_int(text: str, cmd: VllmCommand) -> int | None:
    """vLLM reads --max-model-len 32k as 32000 and 32K as 32768."""
    m = _HUMAN.match(text.strip())
    if m is None:
        cmd.unresolved.append(f"--max-model-len {text}: not a length")
        return None
    suffix = m.group(2)
    mult = {"": 1, "k": 1000, "m": 10**6, "g": 10**9, "K": 1024, "M": 1024**2, "G": 1024**3}[suffix]
    return int(float(m.group(1)) * mult)


def _use(hits: list[tuple[Word, Word | None, str]]) -> FlagUse:
    opt, value, text = hits[-1]
    if value is None:
        span = None
    elif value is opt:  # --flag=value: the value is the part of the word after '='
        eq = opt.raw.find("=")
        span = Span(start=opt.start + eq + 1, end=opt.end) if eq >= 0 and opt.raw[:eq].isascii() else None
    else:
        span = Span(start=value.start, end=value.end)
    literal = value is not None and not value.expanded and not opt.split
    return FlagUse(
        option=Span(start=opt.start, end=opt.end), value=span, text=text, literal=literal, count=len(hits)
    )
