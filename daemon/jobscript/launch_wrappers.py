"""Recognise what one simple shell command starts, through the prefixes real job scripts put in
front of it: `exec`, `nohup`, `env VAR=...`, `timeout`, `numactl`, `srun [opts]` (with pyxis'
`--container-image`), `apptainer|singularity exec [opts] IMAGE`, `docker|podman run [opts] IMAGE`,
`uv|conda|pixi|poetry run`, `torchrun|accelerate launch|deepspeed [opts] -m MODULE`,
`ray job submit --`, and strings run as scripts (`bash -c '...'`, `eval ...`).

The answer is a `Launch`: a vLLM server (with the words of its arguments), or one of the things
that mention vLLM without serving it (a benchmark, offline batch, an install, a client, a version
query), or None for everything else."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from omnipilot.daemon.jobscript.shell_words import Word

_ASSIGN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PYTHON = re.compile(r"^(?:python|pypy)(?:\d+(?:\.\d+)?)?$")
SERVER_MODULES = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server")

_SRUN_VALUE = {
    "-A", "-c", "-d", "-D", "-e", "-i", "-J", "-L", "-m", "-n", "-N", "-o", "-p", "-q", "-t", "-w", "-x",
    "-G", "-C", "-B", "-W", "-T", "-r",
    "--account", "--cpus-per-task", "--constraint", "--gres", "--gpus", "--gpus-per-node", "--gpus-per-task",
    "--nodes", "--ntasks", "--ntasks-per-node", "--partition", "--time", "--mem", "--mem-per-cpu",
    "--mem-per-gpu", "--nodelist", "--exclude", "--job-name", "--output", "--error", "--input",
    "--container-image", "--container-mounts", "--container-workdir", "--container-name", "--container-env",
    "--mpi", "--cpu-bind", "--gpu-bind", "--export", "--distribution", "--chdir", "--cpus-per-gpu",
    "--het-group", "--reservation", "--dependency", "--signal", "--qos", "--comment", "--mem-bind",
    "--network", "--wckey", "--time-min", "--relative", "--ntasks-per-gpu", "--tres-per-task",
}  # fmt: skip
_MPI_VALUE = {"-n", "-np", "-N", "-c", "-x", "-H", "--host", "--hostfile", "-hostfile", "--map-by",
              "--bind-to", "-ppn", "--npernode", "-genv", "--mca", "-mca"}  # fmt: skip
_CONTAINER_VALUE = {
    "-B", "--bind", "--env", "--env-file", "-H", "--home", "-o", "--overlay", "--pwd", "-W", "--workdir",
    "--mount", "--security", "--app", "--fusemount", "--network", "--network-args", "-S", "--scratch",
    "--hostname", "--dns", "--apply-cgroups", "--cwd", "--drop-caps", "--add-caps",
}  # fmt: skip
_DOCKER_VALUE = {
    "-v", "--volume", "-e", "--env", "--env-file", "--name", "-p", "--publish", "--gpus", "--shm-size",
    "--ipc", "--network", "--net", "-w", "--workdir", "--entrypoint", "-u", "--user", "--runtime", "--device",
    "--ulimit", "--mount", "-m", "--memory", "--cpus", "--cpuset-cpus", "--label", "-l", "--add-host",
    "--hostname", "-h", "--platform", "--pull", "--restart", "--cap-add", "--security-opt", "--log-driver",
    "--log-opt", "--stop-signal", "--tmpfs", "--group-add", "--pid", "--uts", "--label-file",
}  # fmt: skip
_RUNNER_VALUE = {
    "-n", "--name", "-p", "--prefix", "--cwd", "-e", "--environment", "--with", "--python", "--project",
    "--directory", "--env-file", "--extra", "--group", "--index", "--manifest-path", "--from",
}  # fmt: skip
_PREFIX_VALUE: dict[str, set[str]] = {
    "exec": {"-a"}, "nohup": set(), "time": {"-f", "-o"}, "command": set(), "builtin": set(),
    "sudo": {"-u", "-g", "-C", "-D"}, "unbuffer": set(), "stdbuf": {"-i", "-o", "-e"},
    "nice": {"-n"}, "ionice": {"-c", "-n", "-p"}, "numactl": {"-N", "-m", "-C", "-p", "-i"},
    "tini": set(), "dumb-init": set(), "setsid": set(), "xargs": set(),
    "env": {"-u", "-C", "--unset", "--chdir", "-S"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"}, "taskset": {"-c"},
}  # fmt: skip
# torchrun / accelerate launch / deepspeed: the options that take a value (the rest are switches)
_DIST_VALUE = {
    "--nproc_per_node", "--nproc-per-node", "--nnodes", "--node_rank", "--node-rank", "--rdzv_backend",
    "--rdzv-backend", "--rdzv_endpoint", "--rdzv-endpoint", "--rdzv_id", "--rdzv-id", "--rdzv_conf",
    "--master_addr", "--master-addr", "--master_port", "--master-port", "--max_restarts", "--max-restarts",
    "--monitor_interval", "--start_method", "--role", "--log_dir", "--log-dir", "-r", "--redirects", "-t",
    "--tee", "--local_addr", "--num_processes", "--num_machines", "--machine_rank", "--main_process_ip",
    "--main_process_port", "--mixed_precision", "--config_file", "--gpu_ids", "--dynamo_backend",
    "--num_cpu_threads_per_process", "--deepspeed_config_file", "--zero_stage", "--num_gpus", "--num_nodes",
    "--hostfile", "--include", "--exclude", "--launcher",
}  # fmt: skip
_DIST = {"torchrun", "deepspeed"}
_KEYWORDS = {"then", "do", "else", "{", "!", "if", "while", "until", "elif"}
_RUNNERS = {"uv", "conda", "mamba", "micromamba", "pixi", "poetry", "pipenv", "hatch", "rye", "pdm"}
_INSTALLERS = {"pip", "pip3", "uv", "conda", "mamba", "micromamba", "pipx", "poetry", "pixi"}
_CLIENTS = {"curl", "wget", "http", "https", "xh", "grpcurl", "ab", "hey", "locust", "genai-perf"}
_VLLM_NON_SERVER = {
    "bench": ("bench", "runs `vllm bench`, a benchmark, not a server"),
    "chat": ("client", "runs `vllm chat`, a client of a server elsewhere"),
    "complete": ("client", "runs `vllm complete`, a client of a server elsewhere"),
    "run-batch": ("offline", "runs `vllm run-batch`, offline batch inference, not a server"),
    "collect-env": ("info", "runs `vllm collect-env`, which only prints the environment"),
    "--version": ("version", "only prints the vLLM version (`vllm --version`)"),
    "-v": ("version", "only prints the vLLM version (`vllm -v`)"),
    "version": ("version", "only prints the vLLM version"),
    "--help": ("info", "only prints vLLM's help"),
    "-h": ("info", "only prints vLLM's help"),
}  # fmt: skip


@dataclass
class Launch:
    """What one simple command starts. For a server, `args` are the words after the entry point
    (`vllm serve` or the api_server module) and `entry` is the last word of the entry point."""

    kind: str  # server | bench | offline | install | client | version | info | subshell
    detail: str
    args: list[Word] = field(default_factory=list)
    entry: Word | None = None
    launchers: list[str] = field(default_factory=list)
    srun_nodes: int | None = None
    subscript: str | None = None
    positional: bool = False  # the first argument may be the model (`vllm serve MODEL`)


def basename(value: str) -> str:
    return value.rstrip("/").rsplit("/", 1)[-1]


def _is_command(word: Word) -> bool:
    b = basename(word.value)
    return (
        b in ("vllm", "bash", "sh", "srun", "eval", "accelerate") or b in _PREFIX_VALUE or b in _DIST
    ) or bool(_PYTHON.match(b))


def skip_options(words: list[Word], i: int, value_opts: set[str], guess_unknown: bool = False) -> int:
    """Index of the first word after the options starting at `i`. `--` ends the options. With
    `guess_unknown`, an unlisted `--long` option followed by a non-command word takes it as value."""
    while i < len(words):
        v = words[i].value
        if v == "--":
            return i + 1
        if not v.startswith("-") or v == "-":
            return i
        name = v.split("=", 1)[0]
        takes = name in value_opts and "=" not in v and (len(v) == 2 or v.startswith("--") or v in value_opts)
        unknown = guess_unknown and v.startswith("--") and "=" not in v and name not in value_opts
        if (takes or unknown) and i + 1 < len(words):
            nxt = words[i + 1]
            if takes or (not nxt.value.startswith("-") and not _is_command(nxt)):
                i += 1
        i += 1
    return i


def classify(words: list[Word]) -> Launch | None:
    """Follow the prefixes of one simple command to what it runs."""
    launchers: list[str] = []
    srun_nodes: int | None = None
    i = 0
    while i < len(words) and (
        (_ASSIGN.match(words[i].raw) and not words[i].split) or words[i].raw in _KEYWORDS
    ):
        i += 1  # `VAR=x cmd`, `then cmd`, `do cmd`, `{ cmd`, `! cmd`
    while i < len(words):
        w = words[i]
        base = basename(w.value)
        if base == "vllm":
            return _vllm(words, i, launchers, srun_nodes)
        if _PYTHON.match(base):
            return _python(words, i, launchers, srun_nodes)
        if base == "eval":  # the words are joined and read again as shell
            body = " ".join(x.value for x in words[i + 1 :])
            return Launch("subshell", "eval", entry=w, launchers=launchers, subscript=body)
        if base in _DIST or (base == "accelerate" and i + 1 < len(words) and words[i + 1].value == "launch"):
            launchers.append(base)
            return _dist(words, i + (base == "accelerate"), launchers, srun_nodes)
        if base in ("srun", "mpirun", "mpiexec"):
            launchers.append("srun" if base == "srun" else base)
            j = skip_options(words, i + 1, _SRUN_VALUE if base == "srun" else _MPI_VALUE, guess_unknown=True)
            srun_nodes = _srun_nodes(words[i + 1 : j]) or srun_nodes
            if any(x.value.startswith("--container-image") for x in words[i + 1 : j]):
                launchers.append("pyxis")
            i = j
        elif base in _PREFIX_VALUE:
            if base == "env":
                launchers.append("env")
            i = skip_options(words, i + 1, _PREFIX_VALUE[base])
            while base == "env" and i < len(words) and _ASSIGN.match(words[i].value):
                i += 1
            if base == "timeout" or (base == "taskset" and "-c" not in {x.value for x in words[:i]}):
                i += 1  # the duration / CPU mask
        elif base in (
            "apptainer",
            "singularity",
            "docker",
            "podman",
            "podman-hpc",
            "enroot",
            "ch-run",
            "shifter",
        ):
            step = _container(words, i, base, launchers)
            if isinstance(step, Launch):
                step.srun_nodes = srun_nodes
                return step
            if step is None:
                return None
            i = step
        elif base in _RUNNERS and i + 1 < len(words) and words[i + 1].value in ("run", "exec"):
            launchers.append(base)
            i = skip_options(words, i + 2, _RUNNER_VALUE)
        elif base == "ray" and [x.value for x in words[i + 1 : i + 3]] == ["job", "submit"]:
            rest = [x.value for x in words[i:]]
            i = i + rest.index("--") + 1 if "--" in rest else len(words)
        elif base in ("bash", "sh", "zsh", "dash"):
            return _subshell(words, i, launchers)
        else:
            return _other(words, i, base, launchers)
    return None


def _srun_nodes(opts: list[Word]) -> int | None:
    for k, w in enumerate(opts):
        v = w.value
        value = None
        if v.startswith("--nodes="):
            value = v.split("=", 1)[1]
        elif v in ("-N", "--nodes") and k + 1 < len(opts):
            value = opts[k + 1].value
        elif v.startswith("-N") and len(v) > 2:
            value = v[2:]
        if value is not None:
            lo = value.split("-", 1)[0]
            return int(lo) if lo.isdigit() else None
    return None


def _container(words: list[Word], i: int, base: str, launchers: list[str]) -> int | Launch | None:
    """Skip `apptainer exec [opts] IMAGE` and kin; a vLLM image run without a command is a server."""
    launchers.append(base)
    sub = words[i + 1].value if i + 1 < len(words) else ""
    if base in ("apptainer", "singularity") and sub in ("exec", "run"):
        j = skip_options(words, i + 2, _CONTAINER_VALUE)
    elif base in ("docker", "podman", "podman-hpc") and sub == "run":
        j = skip_options(words, i + 2, _DOCKER_VALUE)
    elif base == "enroot" and sub in ("start", "exec"):
        j = skip_options(words, i + 2, {"-m", "--mount", "-e", "--env", "-c", "--conf"})
    elif base in ("ch-run", "shifter"):
        j = skip_options(words, i + 1, {"-b", "--bind", "--image", "-c", "--cd"})
        return j
    else:
        return None
    if j >= len(words):
        return None
    image = words[j]
    rest = words[j + 1 :]
    if "vllm" in image.value.lower() and (not rest or not _is_command(rest[0])):
        # vLLM images start the OpenAI server (newer ones run `vllm serve`, so a model may come first);
        # the words after the image are its arguments
        if rest and rest[0].value == "serve":
            return Launch("server", "vllm serve", rest[1:], rest[0], launchers, positional=True)
        positional = bool(rest) and not rest[0].value.startswith("-")
        return Launch("server", f"{base} image {image.value}", rest, image, launchers, positional=positional)
    if rest and rest[0].value == "--":
        return j + 2
    return j + 1


def _vllm(words: list[Word], i: int, launchers: list[str], srun_nodes: int | None) -> Launch:
    sub = words[i + 1] if i + 1 < len(words) else None
    if sub is not None and sub.value == "serve":
        args = words[i + 2 :]
        if any(a.value in ("--help", "-h") for a in args):
            return Launch("info", "only prints `vllm serve --help`", launchers=launchers)
        return Launch("server", "vllm serve", args, sub, launchers, srun_nodes, positional=True)
    if sub is None:
        return Launch("info", "runs `vllm` without a subcommand", launchers=launchers)
    kind, detail = _VLLM_NON_SERVER.get(
        sub.value, ("info", f"runs `vllm {sub.value}`, which is not `vllm serve`")
    )
    return Launch(kind, detail, launchers=launchers)


def _python(words: list[Word], i: int, launchers: list[str], srun_nodes: int | None) -> Launch | None:
    j = i + 1
    # interpreter flags (-u, -O, -X opt, -W arg) come before -m MODULE / -c CODE / the script
    while j < len(words) and words[j].value.startswith("-") and not words[j].value.startswith(("-m", "-c")):
        j += 2 if words[j].value in ("-X", "-W", "-Q") else 1
    if j >= len(words):
        return None
    v = words[j].value
    module = None
    if v == "-m" and j + 1 < len(words):
        module, j = words[j + 1].value, j + 1
    elif v.startswith("-m") and len(v) > 2:
        module = v[2:]
    elif v == "-c":
        return None  # inline code: offline use of vllm is reported from the text
    if module is not None:
        return _python_module(words, j, module, launchers, srun_nodes)
    script = basename(v)
    if script == "api_server.py" and "vllm" in v:
        return Launch("server", f"python {v}", words[j + 1 :], words[j], launchers, srun_nodes)
    if script.startswith("benchmark") or script.startswith("bench_"):
        return Launch("bench", f"runs the benchmark script {script}, not a server", launchers=launchers)
    if any(
        w.value.split("=", 1)[0] in ("--url", "--base-url", "--api-base", "--endpoint") for w in words[j:]
    ):
        return Launch(
            "client", f"runs {script}, a client of a server (it is given a URL)", launchers=launchers
        )
    return None


def _dist(words: list[Word], i: int, launchers: list[str], srun_nodes: int | None) -> Launch | None:
    """`torchrun [opts] -m MODULE args` or `torchrun [opts] script.py args`: what Python runs."""
    j = i + 1
    module = False
    while j < len(words) and words[j].value.startswith("-"):
        v = words[j].value
        if v == "--":
            j += 1
            break
        module = module or v in ("-m", "--module")
        j += 2 if v in _DIST_VALUE else 1
    if j >= len(words):
        return None
    if module:
        return _python_module(words, j, words[j].value, launchers, srun_nodes)
    return _python(words, j - 1, launchers, srun_nodes)


def _python_module(
    words: list[Word], j: int, module: str, launchers: list[str], srun_nodes: int | None
) -> Launch | None:
    if module in ("torch.distributed.run", "torch.distributed.launch"):
        return _dist(words, j, launchers, srun_nodes)
    if module in ("lm_eval", "lighteval"):
        return _other(words, j, module, launchers)
    if module in SERVER_MODULES:
        return Launch("server", f"python -m {module}", words[j + 1 :], words[j], launchers, srun_nodes)
    if module in ("vllm", "vllm.entrypoints.cli.main"):
        return _vllm(words, j, launchers, srun_nodes)
    if module.startswith("vllm.entrypoints.openai.run_batch"):
        return Launch(
            "offline", "runs vLLM's run_batch, offline batch inference, not a server", launchers=launchers
        )
    if module.startswith("vllm") and "bench" in module:
        return Launch("bench", f"runs {module}, a benchmark, not a server", launchers=launchers)
    if module in ("pip", "uv") and any("vllm" in w.value for w in words[j + 1 :]):
        return Launch("install", "installs vllm with pip but does not start a server", launchers=launchers)
    if module.startswith("vllm"):
        return Launch("info", f"runs python -m {module}, which is not the vLLM server", launchers=launchers)
    return None


def _subshell(words: list[Word], i: int, launchers: list[str]) -> Launch | None:
    for k in range(i + 1, len(words) - 1):
        v = words[k].value
        if v.startswith("-") and not v.startswith("--") and "c" in v[1:]:
            return Launch(
                "subshell", "bash -c", entry=words[k + 1], launchers=launchers, subscript=words[k + 1].value
            )
        if not v.startswith("-"):
            return None
    return None


def _other(words: list[Word], i: int, base: str, launchers: list[str]) -> Launch | None:
    rest = [w.value for w in words[i + 1 :]]
    if base in _INSTALLERS and "install" in rest and any("vllm" in r for r in rest):
        return Launch(
            "install", f"installs vllm ({base} install) but does not start a server", launchers=launchers
        )
    if base in ("lm_eval", "lm-eval", "lighteval") and any("vllm" in r for r in rest):
        if any(r in ("vllm", "--model=vllm") for r in rest):
            return Launch(
                "offline",
                f"runs {base} with vLLM as an in-process backend (offline inference), not a server",
                launchers=launchers,
            )
        return Launch("client", f"runs {base}, an evaluation client", launchers=launchers)
    if base in _CLIENTS:
        return Launch("client", f"runs {base}, a client of a server", launchers=launchers)
    if base == "module" and rest[:1] in (["load"], ["add"]):
        return Launch(
            "info",
            "loads an environment module that mentions vllm (not a server by itself)",
            launchers=launchers,
        )
    return None
