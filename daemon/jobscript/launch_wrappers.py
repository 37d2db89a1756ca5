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

from omnipilot.daemon.jobscript.shell_words import Word, informative

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
_CONTAINER_FLAGS = {
    "--nv", "--nvccli", "--rocm", "-e", "--cleanenv", "-c", "--contain", "-C", "--containall", "-w",
    "--writable", "--writable-tmpfs", "-f", "--fakeroot", "--no-home", "--no-init", "--no-privs", "-u",
    "--userns", "-i", "--ipc", "-p", "--pid", "--compat", "--no-eval", "--no-nv", "--disable-cache",
    "--unsquash", "--keep-privs", "--allow-setuid", "--boot", "-n", "--net", "--sharens", "--oci",
    "--no-https", "--nohttps",
}  # fmt: skip
_DOCKER_FLAGS = {
    "--rm", "-d", "--detach", "-i", "--interactive", "-t", "--tty", "-it", "-ti", "--privileged", "--init",
    "-P", "--publish-all", "--read-only", "--oom-kill-disable", "--no-healthcheck", "--sig-proxy",
}  # fmt: skip
_ENROOT_FLAGS = {"-r", "--root", "-w", "--rw"}
_BIND_OPTS = {"-B", "--bind", "-v", "--volume", "--mount", "-m", "-b", "--container-mounts", "-V"}
_MAX_BINDS = 32
_MAX_WRAPPER_ARGS = 3  # `tool run [opts] [ENV] CMD`: words looked past for CMD

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
# GNU parallel's options that take a value; `parallel [opts] 'CMD {}' ::: ARGS` runs CMD through a shell
_PARALLEL_VALUE = {
    "-j", "--jobs", "-P", "--max-procs", "-S", "--sshlogin", "--sshloginfile", "--slf", "--joblog",
    "--results", "--res", "--tmpdir", "--delay", "--timeout", "--memfree", "--load", "--retries", "-a",
    "--arg-file", "--colsep", "-C", "-d", "--delimiter", "-I", "--env", "--wd", "--workdir", "-N", "-n",
    "--max-args", "--halt", "--basefile", "--bf", "--transferfile", "--tf", "--return", "--tagstring",
    "-E", "--eof", "--nice", "--termseq", "--shebang-wrap",
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
# profilers that run a command: `nsys profile [opts] CMD` (each nsys option takes a value, written
# `-t cuda` or `--stats=true`)
_PROFILERS = {"nsys": ("profile", "launch")}
# `uvx SPEC`, `uv tool run SPEC`, `pipx run SPEC`: SPEC names a package whose command runs
_VLLM_SPEC = re.compile(r"^vllm(?:\[[\w,-]*\])?(?:[<>=!~@].*)?$")
_CONTAINERS = ("apptainer", "singularity", "docker", "podman", "podman-hpc", "sarus", "enroot", "ch-run", "shifter")  # fmt: skip
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
    binds: list[Bind] = field(default_factory=list)  # container mounts, host -> container path
    unknown_command: str | None = None  # `$PY` standing for the interpreter, set outside the script


@dataclass(frozen=True, slots=True)
class Bind:
    """One container mount: `src` on the host is seen as `dst` inside the container."""

    src: str
    dst: str
    known: bool = True  # False when `src` is only a variable the script does not set


def parse_binds(spec: str, known: bool, sep: str = ",") -> list[Bind]:
    """`SRC[:DST[:OPTS]],...` (apptainer -B, docker -v, enroot/pyxis mounts) or docker/apptainer
    `--mount type=bind,src=...,dst=...`."""
    if "dst=" in spec or "target=" in spec or "destination=" in spec:
        fields = dict(f.split("=", 1) for f in spec.split(",") if "=" in f)
        src = fields.get("src") or fields.get("source")
        dst = fields.get("dst") or fields.get("target") or fields.get("destination")
        return [Bind(src, dst, known or informative(src))] if src and dst else []
    out: list[Bind] = []
    for item in spec.split(sep)[:_MAX_BINDS]:
        parts = item.strip().split(":")
        if not parts[0]:
            continue
        dst = parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0]
        out.append(Bind(parts[0], dst, known or informative(parts[0])))
    return out


def to_host(path: str, binds: list[Bind]) -> tuple[str, Bind] | None:
    """The host path a container path stands for, through the mount with the longest matching
    destination; None when no mount maps it elsewhere."""
    if not path.startswith("/"):
        return None
    best: Bind | None = None
    for b in binds:
        dst = b.dst.rstrip("/") or "/"
        if (path == dst or path.startswith(dst + "/") or dst == "/") and (
            best is None or len(dst) > len(best.dst.rstrip("/"))
        ):
            best = b
    if best is None or not best.src.startswith(("/", "~", "$", ".")) or best.src == best.dst:
        return None  # a named docker volume has no host path a reader could name
    dst = best.dst.rstrip("/")
    return best.src.rstrip("/") + path[len(dst) :], best


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
    binds: list[Bind] = []
    launch = _classify(words, binds)
    if launch is None:
        launch = _foreign(words)
    if launch is not None and binds:
        launch.binds = binds
    return launch


def _classify(words: list[Word], binds: list[Bind]) -> Launch | None:
    launchers: list[str] = []
    srun_nodes: int | None = None
    unknown: str | None = None
    i = 0
    while i < len(words) and (
        (_ASSIGN.match(words[i].raw) and not words[i].split) or words[i].raw in _KEYWORDS
    ):
        i += 1  # `VAR=x cmd`, `then cmd`, `do cmd`, `{ cmd`, `! cmd`
    for _ in range(len(words)):
        if i >= len(words):
            break
        w = words[i]
        base = basename(w.value)
        if not w.known and not informative(w.value) and unknown is None:
            # `$PY -m vllm...`, `$RUNNER vllm serve ...`: a command held in a variable set outside the
            # script (a sourced file, the caller's environment)
            unknown = w.raw
            step = _unknown_command(words, i, launchers, srun_nodes)
            if isinstance(step, Launch):
                step.unknown_command = unknown
                return step
            if step is None:
                return None
            i = step
            continue
        if base == "vllm":
            return _known(_vllm(words, i, launchers, srun_nodes), unknown)
        if _PYTHON.match(base):
            return _known(_python(words, i, launchers, srun_nodes), unknown)
        if base == "eval":  # the words are joined and read again as shell
            body = " ".join(x.value for x in words[i + 1 :])
            return Launch("subshell", "eval", entry=w, launchers=launchers, subscript=body)
        if base in _DIST or (base == "accelerate" and i + 1 < len(words) and words[i + 1].value == "launch"):
            launchers.append(base)
            return _known(_dist(words, i + (base == "accelerate"), launchers, srun_nodes), unknown)
        if base in ("srun", "mpirun", "mpiexec"):
            launchers.append("srun" if base == "srun" else base)
            j = skip_options(words, i + 1, _SRUN_VALUE if base == "srun" else _MPI_VALUE, guess_unknown=True)
            srun_nodes = _srun_nodes(words[i + 1 : j]) or srun_nodes
            if any(x.value.startswith("--container-image") for x in words[i + 1 : j]):
                launchers.append("pyxis")
            _srun_mounts(words[i + 1 : j], binds)
            i = j
        elif base in _PREFIX_VALUE:
            if base == "env":
                launchers.append("env")
            i = skip_options(words, i + 1, _PREFIX_VALUE[base])
            while base == "env" and i < len(words) and _ASSIGN.match(words[i].value):
                i += 1
            if base == "timeout" or (base == "taskset" and "-c" not in {x.value for x in words[:i]}):
                i += 1  # the duration / CPU mask
        elif base in _CONTAINERS:
            step = _container(words, i, base, launchers, binds)
            if isinstance(step, Launch):
                step.srun_nodes = srun_nodes
                return _known(step, unknown)
            if step is None:
                return None
            i = step
        elif _tool_run(words, i, base):
            launchers.append("uv" if base in ("uv", "uvx") else base)
            i = skip_options(words, i + (1 if base == "uvx" else 2 if base == "pipx" else 3), _RUNNER_VALUE)
            if i < len(words) and _VLLM_SPEC.match(words[i].value) and basename(words[i].value) != "vllm":
                # `uvx 'vllm>=0.10' serve ...`, `uv tool run vllm@0.11 -- serve ...`: the package's command
                tail = words[i + 2 :] if i + 1 < len(words) and words[i + 1].value == "--" else words[i + 1 :]
                return _known(_vllm([words[i], *tail], 0, launchers, srun_nodes), unknown)
        elif base in _PROFILERS and i + 1 < len(words) and words[i + 1].value in _PROFILERS[base]:
            launchers.append(base)
            i += 2
            while i < len(words) and words[i].value.startswith("-") and words[i].value != "--":
                i += 1 if "=" in words[i].value else 2
            if i < len(words) and words[i].value == "--":
                i += 1
        elif base in _RUNNERS and i + 1 < len(words) and words[i + 1].value in ("run", "exec"):
            launchers.append(base)
            i = skip_options(words, i + 2, _RUNNER_VALUE)
        elif base == "ray" and [x.value for x in words[i + 1 : i + 3]] == ["job", "submit"]:
            rest = [x.value for x in words[i:]]
            i = i + rest.index("--") + 1 if "--" in rest else len(words)
        elif base in ("bash", "sh", "zsh", "dash"):
            return _subshell(words, i, launchers)
        elif base == "parallel":
            launchers.append("parallel")
            i = skip_options(words, i + 1, _PARALLEL_VALUE)
            if i < len(words) and any(c.isspace() for c in words[i].value):
                # the command is one quoted string, which parallel hands to a shell per input
                return Launch("subshell", "parallel", entry=words[i], launchers=launchers, subscript=words[i].value)
        else:
            launch = _other(words, i, base, launchers)
            if launch is not None:
                return launch
            k = _wrapped(words, i)
            if k is None:
                return None
            launchers.append(base)
            i = k
    return None


def _runs_command(rest: list[Word]) -> bool:
    """The words after a vLLM image start with a command run in it (`uv run vllm serve ...`,
    `conda run -n x vllm serve ...`), not with the image's own server arguments."""
    b = basename(rest[0].value)
    return _starts_launch(rest[0]) or _tool_run(rest, 0, b) or _wrapped(rest, 0) is not None


def _foreign(words: list[Word]) -> Launch | None:
    """`bash serve_vllm.sh`, `./start-cluster.py ... vllm.sif --model X`: a script or program this
    module does not read, with vllm in its name or arguments. It may start the server; the script
    does not show it, so the job is not read as serving, with a hint on how to tag it."""
    i = 0
    while i < len(words) and _ASSIGN.match(words[i].raw) and not words[i].split:
        i += 1
    if i < len(words) and basename(words[i].value) == "srun":
        i = skip_options(words, i + 1, _SRUN_VALUE, guess_unknown=True)
    if i >= len(words):
        return None
    prog = words[i]
    base = basename(prog.value)
    if base in ("bash", "sh", "zsh", "source", "."):
        i += 1
        while i < len(words) and words[i].value.startswith("-"):
            i += 1
        if i >= len(words):
            return None
        prog = words[i]
        if base in ("source", ".") and basename(prog.value) in _ENV_SETUP:
            return None  # `source ~/venvs/vllm/bin/activate`: an environment, not a launch
    elif base in _NEVER_LAUNCH:
        return None
    elif not (
        prog.value.startswith(("/", "./", "~/", "../"))
        or base.endswith(_SCRIPT_SUFFIXES)
        or ("vllm" in base.lower() and base != "vllm")  # `vllm-marenostrum cfg.yaml`, `start_vllm`
        or _names_vllm_engine(words[i + 1 :])
    ):
        return None
    if _PYTHON.match(basename(prog.value)) or basename(prog.value) == "vllm":
        return None
    if "vllm" not in prog.value.lower() and not any("vllm" in w.value.lower() for w in words[i + 1 :]):
        return None
    return Launch(
        "unknown",
        f"runs {prog.raw}, a script or program OmniPilot does not read, with vllm in its name or "
        "arguments: it may start a server; if it does, add `#OMNIPILOT model=<hf-name> tp=<n>` to the "
        "script",
    )


_SCRIPT_SUFFIXES = (".sh", ".bash", ".py", ".slurm", ".sbatch")
_ENV_SETUP = {"activate", "conda.sh", "mamba.sh", "micromamba.sh"}
# commands that print, test or move files: vllm among their words starts nothing
_NEVER_LAUNCH = {
    "echo", "printf", "cat", "grep", "sed", "awk", "tee", "mkdir", "ls", "cd", "test", "[", "[[", "sleep",
    "curl", "wget", "touch", "rm", "cp", "mv", "ln", "chmod", "head", "tail", "logger", "export", "local",
    "declare", "set", "unset", "read", "find", "tar", "rsync", "module", "ml", "conda", "mamba", "micromamba",
}  # fmt: skip
# `ns start_server --server_type=vllm`, `launch --engine vllm`: a program told to run vLLM as its
# server or engine
_ENGINE_OPT = re.compile(r"--?(?:[A-Za-z]+[-_])?(?:server|engine|backend)(?:[-_]type)?")
_MAX_FOREIGN_ARGS = 32
_SERVER_ARGS = {"--model", "--tensor-parallel-size", "-tp", "--served-model-name", "--max-model-len"}


def _names_vllm_engine(words: list[Word]) -> bool:
    for k, w in enumerate(words[:_MAX_FOREIGN_ARGS]):
        opt, eq, value = w.value.partition("=")
        if not eq:
            value = words[k + 1].value if k + 1 < len(words) else ""
        if value.lower() == "vllm" and _ENGINE_OPT.fullmatch(opt):
            return True
    return False


def _tool_run(words: list[Word], i: int, base: str) -> bool:
    """`uvx ...`, `uv tool run ...`, `pipx run ...`: a tool run from a package (the package's name
    may stand for its command)."""
    nxt = [w.value for w in words[i + 1 : i + 3]]
    return base == "uvx" or (base == "uv" and nxt == ["tool", "run"]) or (base == "pipx" and nxt[:1] == ["run"])


def _known(launch: Launch | None, unknown: str | None) -> Launch | None:
    if launch is not None and unknown is not None:
        launch.unknown_command = unknown
    return launch


def _starts_launch(word: Word) -> bool:
    """A word that can begin a command this module follows (an entry point or a known prefix)."""
    b = basename(word.value)
    return _is_command(word) or b in _CONTAINERS or b in _RUNNERS or b in ("mpirun", "mpiexec", "ray")


def _wrapped(words: list[Word], i: int) -> int | None:
    """`TOOL run [opts] CMD`, `TOOL exec [opts] [ENV] CMD`, `TOOL [opts] -- CMD` for a tool this
    module does not know (`uv`, `pixi`, `guix shell`, `direnv exec DIR`, site wrappers): the index
    of CMD when CMD is something this module follows, else None."""
    n = len(words)
    j: int | None = None
    if i + 1 < n and words[i + 1].value in ("run", "exec", "x"):
        j = skip_options(words, i + 2, set(), guess_unknown=True)
    else:
        for k in range(i + 1, min(n, i + 16)):
            if words[k].value == "--":
                j = k + 1
                break
    if j is None:
        return None
    return _command_after(words, j)


def _command_after(words: list[Word], j: int) -> int | None:
    """The index of a command this module follows at `j` or after a few plain words (an environment
    name, a directory) there; None at the first option or past the limit."""
    for k in range(j, min(len(words), j + _MAX_WRAPPER_ARGS)):
        if _starts_launch(words[k]):
            return k
        if words[k].value.startswith("-"):
            return None
    return None


def _unknown_command(
    words: list[Word], i: int, launchers: list[str], srun_nodes: int | None
) -> int | Launch | None:
    """A command word the script does not set (`$PY`, `"$RUNNER"`): Python when interpreter flags
    or `-m MODULE` follow, vLLM when `serve` follows a variable named for vllm, a wrapper when a
    known command follows; else, if vLLM is mentioned, a launch OmniPilot cannot see."""
    w = words[i]
    nxt = words[i + 1].value if i + 1 < len(words) else ""
    if nxt.startswith("-m") or nxt in ("-u", "-O", "-B", "-E", "-s", "-I"):
        return _python(words, i, launchers, srun_nodes)
    if nxt == "serve" and "vllm" in w.raw.lower():
        return _vllm(words, i, launchers, srun_nodes)
    k = _command_after(words, skip_options(words, i + 1, set(), guess_unknown=True))
    if k is not None:
        return k
    if any("vllm" in x.value for x in words[i + 1 :]):
        return Launch(
            "unknown",
            f"runs {w.raw}, a command the script does not set (a sourced file or the caller's environment "
            "sets it), with vllm in its arguments: OmniPilot cannot tell whether it starts a server; if it "
            "does, add `#OMNIPILOT model=<hf-name>` to the script",
            launchers=launchers,
        )
    return None


def _srun_mounts(opts: list[Word], binds: list[Bind]) -> None:
    for k, w in enumerate(opts):
        name, eq, inline = w.value.partition("=")
        if name != "--container-mounts":
            continue
        spec, known = (
            (inline, w.known)
            if eq
            else ((opts[k + 1].value, opts[k + 1].known) if k + 1 < len(opts) else ("", True))
        )
        binds.extend(parse_binds(spec, known))


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


def _container(
    words: list[Word], i: int, base: str, launchers: list[str], binds: list[Bind]
) -> int | Launch | None:
    """Skip `apptainer exec [opts] IMAGE` and kin, collecting the mounts; a vLLM image run without a
    command is a server."""
    launchers.append(base)
    sub = words[i + 1].value if i + 1 < len(words) else ""
    instance = False
    if base in ("apptainer", "singularity") and sub == "instance" and i + 2 < len(words):
        # `instance run [opts] IMAGE NAME [args]` runs the image's runscript (a vLLM image's server);
        # `instance start` runs its startscript, which a vLLM image leaves empty: the server comes
        # from a later `exec instance://NAME vllm serve ...`
        instance = words[i + 2].value == "run"
        if not instance:
            return None
        j = _container_options(words, i + 3, _CONTAINER_VALUE, _CONTAINER_FLAGS, binds)
    elif base in ("apptainer", "singularity") and sub in ("exec", "run"):
        j = _container_options(words, i + 2, _CONTAINER_VALUE, _CONTAINER_FLAGS, binds)
    elif base in ("docker", "podman", "podman-hpc", "sarus") and sub == "run":
        j = _container_options(words, i + 2, _DOCKER_VALUE, _DOCKER_FLAGS, binds)
    elif base == "enroot" and sub in ("start", "exec"):
        j = _container_options(
            words, i + 2, {"-m", "--mount", "-e", "--env", "-c", "--conf"}, _ENROOT_FLAGS, binds
        )
    elif base == "shifter":  # `shifter --image=IMG [opts] CMD`: the image is an option
        return _container_options(words, i + 1, {"-b", "--bind", "--image", "-V", "--volume"}, set(), binds)
    elif base == "ch-run":  # `ch-run [opts] IMAGE -- CMD`
        j = _container_options(
            words, i + 1, {"-b", "--bind", "-c", "--cd", "--set-env"}, {"-w", "--write"}, binds
        )
        return j + 2 if j + 1 < len(words) and words[j + 1].value == "--" else j + 1
    else:
        return None
    if j >= len(words):
        return None
    image = words[j]
    rest = words[j + 2 :] if instance else words[j + 1 :]
    if "vllm" in image.value.lower() and (not rest or not _runs_command(rest)):
        # vLLM images start the OpenAI server (newer ones run `vllm serve`, so a model may come first);
        # the words after the image are its arguments
        if rest and rest[0].value == "serve":
            return Launch("server", "vllm serve", rest[1:], rest[0], launchers, positional=True)
        positional = bool(rest) and not rest[0].value.startswith("-")
        return Launch("server", f"{base} image {image.value}", rest, image, launchers, positional=positional)
    if instance:
        return None  # an instance of another image runs its own runscript
    if rest and rest[0].value == "--":
        return j + 2
    if (
        rest
        and rest[0].value.startswith("-")
        and any(w.value.split("=", 1)[0] in _SERVER_ARGS for w in rest[:_MAX_FOREIGN_ARGS])
    ):
        # `apptainer run $SIF --model X`: the image's own entrypoint, given a server's arguments
        return Launch(
            "unknown",
            f"runs the image {image.raw} with server arguments ({rest[0].value} ...); OmniPilot cannot "
            "tell whether it is a vLLM image: if it is, add `#OMNIPILOT model=<hf-name> tp=<n>` to the script",
            launchers=launchers,
        )
    return j + 1


def _image_like(word: Word) -> bool:
    v = word.value
    return (
        "://" in v
        or v.endswith((".sif", ".simg", ".img", ".sqsh", ".squashfs"))
        or "vllm" in v.lower()
        or (":" in v and "/" in v.split(":", 1)[0] and not v.startswith("/"))  # registry/name:tag
    )


def _container_options(
    words: list[Word], i: int, value_opts: set[str], flag_opts: set[str], binds: list[Bind]
) -> int:
    """Index of the image after a container runtime's options. Options the parser does not know are
    judged by their shape: `--opt=value` is one word; `--opt WORD` takes WORD as its value only when
    another plain word (the image) still follows before a command or an option; a word shaped like
    an image (`*.sif`, `docker://...`, `org/name:tag`) is never taken as a value."""
    n = len(words)
    while i < n:
        w = words[i]
        v = w.value
        if v == "--":
            return i + 1
        if not v.startswith("-") or v == "-":
            return i
        name, eq, inline = v.partition("=")
        if name in _BIND_OPTS:
            spec, known = (
                (inline, w.known)
                if eq
                else ((words[i + 1].value, words[i + 1].known) if i + 1 < n else ("", True))
            )
            binds.extend(parse_binds(spec, known, ";" if name == "--volume" and ";" in spec else ","))
        if eq or name in flag_opts:
            i += 1
        elif name in value_opts:
            i += 2
        elif i + 1 < n and _takes_value(words, i + 1, value_opts | flag_opts | _BIND_OPTS):
            i += 2
        else:
            i += 1
    return i


def _takes_value(words: list[Word], k: int, known: set[str]) -> bool:
    """Whether the word at `k`, after an unknown option, is that option's value: not when it is shaped
    like an image or a command, nor when a command or nothing follows it (it is then the image), nor
    when it is a bare unset variable followed by an option the runtime does not have
    (`$IMAGE --model X`, a vLLM image's own arguments)."""
    nxt = words[k]
    if nxt.value.startswith("-") or _image_like(nxt) or _is_command(nxt):
        return False
    after = words[k + 1] if k + 1 < len(words) else None
    if after is None or _is_command(after):
        return False
    if after.value.startswith("-") and after.value.split("=", 1)[0] not in known:
        value_like: bool = nxt.known or informative(nxt.value)
        return value_like
    return True


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
