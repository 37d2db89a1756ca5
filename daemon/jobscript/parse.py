"""Read a batch script and its comment the way a careful admin would: the OmniPilot tags, the vLLM
server command (through srun, containers, environments, variables, continuations, heredocs), what
the `#SBATCH` lines ask for, and whether the job serves at all.

`parse_job` never raises on user input and does no I/O: it runs in the daemon's request path.
Values carry their source (`sources`): a script tag beats a comment tag, which beats the vLLM
command line. Site defaults are the daemon's business: unknown values stay None here."""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from omnipilot.catalog import Catalog, ModelSpec, QuantInfo
from omnipilot.collectors.checkpoint_config import CheckpointFacts
from omnipilot.daemon.jobscript.ambiguity import ambiguities, cut_short
from omnipilot.daemon.jobscript.model_names import (
    ModelKnowledge,
    is_gguf,
    know_model,
    precision_of,
    unresolved_hint,
)
from omnipilot.daemon.jobscript.sbatch_header import SbatchRequest, parse_sbatch
from omnipilot.daemon.jobscript.scan import MAX_SERVERS, Found, ScanResult, host_path, scan
from omnipilot.daemon.jobscript.shell_words import informative
from omnipilot.daemon.jobscript.tags import TagValue, read_tags
from omnipilot.daemon.jobscript.variables import ScriptVars, explain
from omnipilot.daemon.jobscript.vllm_command import VllmCommand, build_command

_OFFLINE_PY = re.compile(r"(?:from[ \t]+vllm[ \t]+import|import[ \t]+vllm|vllm\.LLM)\b")
_RAY_START = re.compile(r"ray[ \t]+start\b")  # literal start: searched at C speed
_CONTAINERS = (
    "pyxis",
    "apptainer",
    "singularity",
    "docker",
    "podman-hpc",
    "podman",
    "enroot",
    "ch-run",
    "shifter",
)


class ParsedJob(BaseModel):
    """Everything OmniPilot reads from one job's script and comment."""

    model_config = ConfigDict(extra="forbid")

    opted_out: bool = False
    is_serving: bool = False
    not_serving_reason: str | None = None
    heterogeneous: bool = False
    tags: dict[str, TagValue] = {}
    tag_errors: list[str] = []
    # the model, as written (tag or command line) and as the catalog knows it
    model: str | None = None
    model_name: str | None = None
    model_spec: ModelSpec | None = None
    model_unresolved_hint: str | None = None
    model_container_path: str | None = None  # the model as named inside its container, when mounted
    served_model_name: str | None = None
    # what the job asks vLLM for (tags first, then the command line)
    tp: int | None = None
    pp: int | None = None
    dp: int | None = None  # --data-parallel-size: replicas of the tp x pp engine
    quantization: str | None = None
    precision: str | None = None
    dtype: str | None = None
    kv_cache_dtype: str | None = None
    max_model_len: int | None = None
    max_num_seqs: int | None = None
    gpu_memory_utilization: float | None = None
    # the workload (tags; concurrency and context fall back to --max-num-seqs / --max-model-len)
    concurrency: int | None = None
    context: int | None = None
    prompt_len: int | None = None
    output_len: int | None = None
    slo_ttft_ms: float | None = None
    params_b: float | None = None
    active_params_b: float | None = None
    family: str | None = None
    # the checkpoint's own quantization (config.json, catalog or name; `quantization` names its method)
    quantization_detail: QuantInfo | None = None
    model_confidence: str | None = None
    model_notes: list[str] = []
    gpu: str | None = None
    engine: str | None = None
    sources: dict[str, str] = {}
    multi_node: bool = False
    multi_node_reason: str | None = None
    # why the server embeds or scores rather than generates (its flags, or the model's name): outside scope
    pooling: str | None = None
    launcher: str = "plain"
    command: VllmCommand | None = None
    line_span: tuple[int, int] | None = None  # 1-based first and last line of the vLLM command
    other_commands: list[str] = []  # vLLM mentions that do not serve, e.g. "installs vllm ..."
    unresolved: list[str] = []
    ambiguities: list[str] = []  # why rewriting the script's vLLM flags would not be safe
    sbatch: SbatchRequest = SbatchRequest()

    def summary(self) -> dict[str, object]:
        """A compact record for the decision log: the values read and their sources, no script text
        and no spans (the log never keeps the script, DECISIONS.md §6)."""
        keep = (
            "opted_out",
            "is_serving",
            "not_serving_reason",
            "pooling",
            "model",
            "model_name",
            "served_model_name",
            "tp",
            "pp",
            "dp",
            "precision",
            "quantization",
            "dtype",
            "kv_cache_dtype",
            "max_model_len",
            "max_num_seqs",
            "concurrency",
            "context",
            "prompt_len",
            "output_len",
            "slo_ttft_ms",
            "params_b",
            "active_params_b",
            "family",
            "model_confidence",
            "model_notes",
            "gpu",
            "engine",
            "launcher",
            "multi_node",
            "multi_node_reason",
            "line_span",
            "tag_errors",
            "unresolved",
            "ambiguities",
            "sources",
        )
        out = {k: getattr(self, k) for k in keep}
        return {k: v for k, v in out.items() if v not in (None, [], {}, False) or k == "is_serving"}


Checkpoints = Callable[[str], CheckpointFacts | None]


def parse_job(
    script: str | None, comment: str | None, catalog: Catalog, *, gpus_per_node: int | None = None,
    checkpoints: Checkpoints | None = None, no_args: bool = False, args: list[str] | None = None,
) -> ParsedJob:
    """Parse one job. `gpus_per_node` (from the job description, when the daemon has it) overrides
    the script's `#SBATCH` GPU request for resolving `$SLURM_GPUS_ON_NODE` and kin. `checkpoints`
    answers a model path's config.json facts without I/O (the daemon's cache) or by reading.
    `no_args`: the job description shows no script arguments (a loop over them never runs).
    `args`: the script arguments it shows (`$1`, `"$@"` read them)."""
    text = script or ""
    sb = parse_sbatch(text) if text else SbatchRequest()
    if comment is None and sb.comment:
        comment = sb.comment  # the hook passes the final comment; a bare script keeps its own
    tags = read_tags(None if sb.heterogeneous else text, comment)
    job = ParsedJob(sbatch=sb, tags=tags.values, tag_errors=list(tags.errors), opted_out=tags.opted_out)
    job.heterogeneous = sb.heterogeneous
    if job.opted_out:
        job.not_serving_reason = "opted out with an OmniPilot `off` tag"
        return job
    found: ScanResult | None = None
    if sb.heterogeneous:
        job.ambiguities.append("heterogeneous job (#SBATCH hetjob): only --comment tags are read")
    elif text:
        env = sb.slurm_env()
        gpn = gpus_per_node if gpus_per_node is not None else sb.gpus_per_node
        if gpus_per_node is not None:
            env["SLURM_GPUS_ON_NODE"] = env["SLURM_GPUS_PER_NODE"] = str(gpus_per_node)
        variables = ScriptVars(text, env, gpn, no_args=no_args, args=args)
        found = scan(text, variables)
        _take_command(job, found, text, variables)
    _merge(job, catalog, checkpoints)
    _serving(job, found, text)
    _multi_node(job, text)
    _pooling(job)
    return job


# Embedding and reranking models by their names (BAAI/bge-m3, Qwen3-Embedding-8B, Qwen3-Reranker-4B,
# intfloat/e5-mistral-7b-instruct, jinaai/jina-embeddings-v3, nomic-embed-text, colbert, the
# sentence-transformers releases such as all-MiniLM-L6-v2 and all-mpnet-base-v2)
_POOLING_NAME = re.compile(
    r"(?i)(?:^|[-_/.])(?:embed|embedding|embeddings|rerank|reranker|colbert|bge|gte|e5|minilm|mpnet)(?=$|[-_/.])"
    r"|(?:^|/)sentence-transformers/"
)


def _pooling(job: ParsedJob) -> None:
    """An embedding or scoring server: OmniPilot predicts generation, so the job is out of scope."""
    if job.command is not None and job.command.pooling is not None:
        job.pooling = f"the server runs with {job.command.pooling}: it embeds or scores, it does not generate"
    elif job.model is not None and _POOLING_NAME.search(job.model):
        job.pooling = f"{job.model} is an embedding or reranking model (by its name)"


TOO_MANY_SERVERS = (
    f"the script starts more than {MAX_SERVERS} vLLM servers; OmniPilot reads none of them: "
    "tag the job (`#OMNIPILOT model=<huggingface-name>`, and tp=, gpu=) to get advice"
)


def _take_command(job: ParsedJob, found: ScanResult, text: str, variables: ScriptVars) -> None:
    servers = [f for f in found.found if f.launch.kind == "server"]
    job.other_commands = list(
        dict.fromkeys(f.launch.detail for f in found.found if f.launch.kind != "server")
    )
    if found.truncated:
        job.ambiguities.append("the script mentions vllm on too many lines; only the first ones were read")
    if found.too_many_servers:
        # which of them the job's GPUs are for cannot be told: none is read, the tags decide
        job.ambiguities.append(TOO_MANY_SERVERS)
        return
    if not servers:
        return
    first = servers[0]
    cmd = build_command(first.launch, first.in_heredoc, first.in_function, first.in_string)
    cmd.line_start = text.count("\n", 0, first.line_start) + 1
    cmd.line_end = text.count("\n", 0, max(first.line_start, first.line_end - 1)) + 1
    _container_model(job, cmd, first, variables)
    job.command = cmd
    job.line_span = (cmd.line_start, cmd.line_end)
    job.unresolved.extend(explain(cmd.unresolved, variables))
    cut = cut_short(text, first)
    if cut is not None:
        job.unresolved.append(cut)
    job.ambiguities.extend(ambiguities(text, servers, cmd))
    job.launcher = next((c for c in _CONTAINERS if c in cmd.launchers), None) or (
        "srun"
        if "srun" in cmd.launchers
        else "mpirun"
        if {"mpirun", "mpiexec"} & set(cmd.launchers)
        else "plain"
    )


def _container_model(job: ParsedJob, cmd: VllmCommand, first: Found, variables: ScriptVars) -> None:
    """A model path inside the server's container is read as the host path mounted there."""
    if first.launch.unknown_command is not None:
        job.unresolved.append(
            f"the command starts with {first.launch.unknown_command}, which the script does not set "
            "(a sourced file or the caller's environment sets it); read as what its arguments start"
        )
    mapped = host_path(first, cmd.model, variables) if cmd.model else None
    if mapped is None:
        return
    host, bind = mapped
    job.model_container_path = cmd.model
    if not bind.known and not informative(host):
        cmd.model_known = False
        cmd.unresolved.append(
            f"model {cmd.model}: the container mounts it from {bind.src}, which the script does not set"
        )
    cmd.model = host


def _tag(job: ParsedJob, key: str) -> object | None:
    tv = job.tags.get(key)
    if tv is None:
        return None
    job.sources[key] = tv.source
    return tv.value


def _set(job: ParsedJob, attr: str, value: object | None, source: str) -> None:
    if value is not None and getattr(job, attr) is None:
        setattr(job, attr, value)
        job.sources[attr] = source


def _merge(job: ParsedJob, catalog: Catalog, checkpoints: Checkpoints | None = None) -> None:
    cmd = job.command
    for key in (
        "model",
        "tp",
        "precision",
        "concurrency",
        "context",
        "prompt_len",
        "output_len",
        "slo_ttft_ms",
        "params",
        "family",
        "engine",
    ):
        value = _tag(job, key)
        if value is not None:
            setattr(job, "params_b" if key == "params" else key, value)
    if "params" in job.sources:
        job.sources["params_b"] = job.sources.pop("params")
    if cmd is not None:
        for attr in (
            "model",
            "tp",
            "pp",
            "dp",
            "quantization",
            "dtype",
            "kv_cache_dtype",
            "max_model_len",
            "max_num_seqs",
            "gpu_memory_utilization",
            "served_model_name",
        ):
            _set(job, attr, getattr(cmd, attr), "command_line")
        _set(job, "concurrency", cmd.max_num_seqs, "command_line")
        _set(job, "context", cmd.max_model_len, "command_line")
        _set(job, "engine", "vllm", "command_line")
    _resolve(job, catalog, checkpoints)
    _gpu(job, catalog)


def _know(catalog: Catalog, name: str, checkpoints: Checkpoints | None) -> ModelKnowledge:
    facts = checkpoints(name) if checkpoints is not None and name.startswith("/") else None
    return know_model(catalog, name, facts)


def _resolve(job: ParsedJob, catalog: Catalog, checkpoints: Checkpoints | None = None) -> None:
    know = _know(catalog, job.model, checkpoints) if job.model else ModelKnowledge()
    if know.spec is None and job.sources.get("model") == "command_line":
        for alt in (job.served_model_name, job.command.tokenizer if job.command else None):
            if alt:
                alt_know = _know(catalog, alt, checkpoints)
                if alt_know.spec is not None:
                    know = alt_know
                    job.sources["model_name"] = (
                        "served_model_name" if alt == job.served_model_name else "tokenizer"
                    )
                    break
    spec = know.spec
    job.model_spec, job.model_name = spec, know.name
    job.model_confidence, job.model_notes = know.confidence, list(know.notes)
    for attr in ("params_b", "active_params_b", "family"):
        _set(job, attr, getattr(know, attr), know.sources.get(attr, "name"))
    quant = know.quantization
    if quant is not None:
        job.quantization_detail = quant
        if quant.method != "none":
            _set(job, "quantization", quant.method, know.sources.get("quantization", "name"))
    flag = job.quantization if job.sources.get("quantization") == "command_line" else None
    precision, source = precision_of(catalog, job.model, flag, job.dtype, spec, quant)
    if precision is not None:
        _set(job, "precision", precision, source)
    elif is_gguf(job.model, job.quantization):
        job.unresolved.append(
            "the model is a GGUF file (llama.cpp quantization): its precision is not one of the arms "
            "bf16, fp8, awq, gptq; advice is for the base model"
        )
    elif flag:
        job.unresolved.append(
            f"--quantization {job.quantization} is not one of the arms bf16, fp8, awq, gptq"
        )


def _gpu(job: ParsedJob, catalog: Catalog) -> None:
    tag = _tag(job, "gpu")
    if isinstance(tag, str):
        spec = catalog.gpu(tag)
        if spec is None:
            job.tag_errors.append(
                f"gpu={tag}: not a GPU kind in etc/gpus.toml; use one of "
                + ", ".join(g.name for g in catalog.gpus)
            )
            job.sources.pop("gpu")
        else:
            job.gpu = spec.name
            return
    for hint in (job.sbatch.gpu_type, job.sbatch.constraint):
        spec = catalog.gpu_for_gres_type(hint) if hint else None
        if spec is not None:
            _set(job, "gpu", spec.name, "sbatch")
            return


def _serving(job: ParsedJob, found: ScanResult | None, text: str) -> None:
    if job.command is not None or job.model is not None or job.params_b is not None:
        known = job.command is None or job.command.model_known or "model" in job.tags
        tagged = job.params_b is not None and job.sources.get("params_b") in ("script_tag", "comment_tag")
        # a shape read from the name (a stand-in) is no catalog model either: the tagging hint stands
        from_name = job.sources.get("params_b") == "name"
        if (job.model_spec is None or from_name) and not tagged:
            job.model_unresolved_hint = unresolved_hint(job.model if known else None, job.command)
    if job.command is not None:
        job.is_serving = True
        return
    if job.model is not None or job.params_b is not None:
        job.is_serving = True
        job.ambiguities.append("no vLLM server command recognised in the script; advice comes from the tags")
        return
    if found is not None and found.too_many_servers:
        job.is_serving = True  # it serves, but what: an untagged job is refused with this hint
        job.model_unresolved_hint = TOO_MANY_SERVERS
        return
    job.not_serving_reason = _reason(found, text)
    if job.heterogeneous and "vllm" in text.lower():
        # the script was not read (DECISIONS: a het job's advice comes from its comment only)
        job.not_serving_reason = (
            "heterogeneous job (#SBATCH hetjob): OmniPilot does not read its script; to get advice, tag it "
            'in the comment: `--comment "omnipilot: model=<hf-name> tp=<n>"`'
        )


def _reason(found: ScanResult | None, text: str) -> str:
    if found is not None and found.found:
        details = dict.fromkeys(f.launch.detail for f in found.found)
        return "not a vLLM server job: it " + "; it ".join(details)
    if _uses_python_api(text):
        return "not a vLLM server job: it uses vLLM's Python API (offline inference), not `vllm serve`"
    if found is not None and found.comment_mentions and not found.code_mentions:
        return "not a vLLM server job: vllm is mentioned only in comments"
    if "vllm" in text.lower():
        return (
            "not a vLLM server job: it mentions vllm but runs no `vllm serve` or "
            "`python -m vllm.entrypoints.openai.api_server` command"
        )
    return "not a vLLM server job: no vLLM server command and no OmniPilot tags"


def _uses_python_api(text: str) -> bool:
    """`from vllm import LLM` and kin, looked for only on the lines that mention vllm (each once)."""
    pos = 0
    for _ in range(256):
        k = text.find("vllm", pos)
        if k < 0:
            return False
        start = text.rfind("\n", 0, k) + 1
        end = text.find("\n", k)
        end = len(text) if end < 0 else end
        if _OFFLINE_PY.search(text, start, end):
            return True
        pos = end + 1
    return False


def _multi_node(job: ParsedJob, text: str) -> None:
    cmd = job.command
    reasons: list[str] = []
    nodes = job.sbatch.nodes or 1
    if nodes > 1:
        reasons.append(f"the job asks for {nodes} nodes")
    if cmd is not None and (cmd.nnodes or 1) > 1:
        reasons.append(f"vLLM is started with --nnodes {cmd.nnodes}")
    if cmd is not None and cmd.headless:
        reasons.append("vLLM is started --headless (a worker node)")
    if cmd is not None and (cmd.srun_nodes or 1) > 1:
        reasons.append(f"srun starts vLLM on {cmd.srun_nodes} nodes")
    if job.is_serving and any(
        m.start() == 0 or not text[m.start() - 1].isalnum() for m in _RAY_START.finditer(text)
    ):
        reasons.append("the script starts a Ray cluster (ray start)")
    spec = job.model_spec
    if job.is_serving and spec is not None and spec.scope != "single_node":
        reasons.append(f"{spec.name} is served across nodes ({spec.note or 'catalog scope: multi-node'})")
    if reasons:
        job.multi_node = True
        job.multi_node_reason = "; ".join(reasons)
