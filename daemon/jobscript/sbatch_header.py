"""What the `#SBATCH` lines of a batch script ask for: partition, GPUs (from `--gres`, `--gpus`/`-G`,
`--gpus-per-node`, `--gpus-per-task`), nodes, time, and the `SLURM_*` variables the job will see.

Like sbatch, directives are read only before the first command line; a `#SBATCH` after it is
ignored by Slurm and reported here as ignored."""

from __future__ import annotations

import re
import shlex

from pydantic import BaseModel, ConfigDict, Field

_DIRECTIVE = re.compile(r"#SBATCH[ \t]+([^\n]*)")  # literal start: searched at C speed
_GPU_SPEC = re.compile(r"^(?:(?P<type>[A-Za-z0-9_.\-]+):)?(?P<count>\d+)$")

# short option -> long option; long options kept as written
_SHORT = {
    "p": "partition", "N": "nodes", "n": "ntasks", "c": "cpus-per-task", "t": "time", "G": "gpus",
    "C": "constraint", "A": "account", "q": "qos", "J": "job-name", "a": "array", "w": "nodelist",
    "x": "exclude", "o": "output", "e": "error", "D": "chdir", "d": "dependency", "L": "licenses",
}  # fmt: skip
_LONG = (
    "partition", "nodes", "ntasks", "ntasks-per-node", "cpus-per-task", "cpus-per-gpu", "time", "gres",
    "gpus", "gpus-per-node", "gpus-per-task", "constraint", "account", "qos", "job-name", "array",
    "nodelist", "exclude", "comment", "mem", "mem-per-cpu", "mem-per-gpu", "exclusive", "output", "error",
    "chdir", "dependency", "licenses", "reservation", "time-min", "signal", "mail-type", "mail-user",
)  # fmt: skip
_FLAGS = {"exclusive", "hold", "requeue", "no-requeue", "overcommit", "oversubscribe", "wait", "parsable"}


class SbatchRequest(BaseModel):
    """The resources the script's own `#SBATCH` lines request (sbatch command-line options, which
    override them, are not visible in the script: the daemon has them from the job description)."""

    model_config = ConfigDict(extra="forbid")

    partition: str | None = None
    gres: str | None = None
    gpu_type: str | None = None
    gpus_per_node: int | None = None
    gpus_total: int | None = None
    gpus_per_task: int | None = None
    nodes: int | None = None
    nodes_max: int | None = None
    ntasks: int | None = None
    ntasks_per_node: int | None = None
    cpus_per_task: int | None = None
    mem: str | None = None
    time_minutes: int | None = None
    time_raw: str | None = None
    constraint: str | None = None
    account: str | None = None
    qos: str | None = None
    job_name: str | None = None
    comment: str | None = None
    array: str | None = None
    exclusive: bool = False
    heterogeneous: bool = False
    # `--export=ALL,MODEL=Qwen/Qwen3-8B`: what the job's environment holds; never dumped (a token
    # passed this way must not reach `script check --json` or a log)
    exported: dict[str, str] = Field(default_factory=dict, exclude=True)
    ignored_directives: list[int] = []  # 1-based lines of #SBATCH after the first command
    errors: list[str] = []

    def slurm_env(self) -> dict[str, str]:
        """The `SLURM_*` variables a batch step of this request sees, where the request fixes them."""
        env: dict[str, str] = {}
        pairs = {
            "SLURM_GPUS_ON_NODE": self.gpus_per_node,
            "SLURM_JOB_NUM_NODES": self.nodes,
            "SLURM_NNODES": self.nodes,
            "SLURM_NTASKS": self.ntasks,
            "SLURM_NTASKS_PER_NODE": self.ntasks_per_node,
            "SLURM_CPUS_PER_TASK": self.cpus_per_task,
            "SLURM_GPUS": self.gpus_total,
            "SLURM_GPUS_PER_TASK": self.gpus_per_task,
            "SLURM_JOB_PARTITION": self.partition,
            "SLURM_JOB_NAME": self.job_name,
        }
        for key, value in pairs.items():
            if value is not None:
                env[key] = str(value)
        if self.gpus_per_node is not None:
            env["SLURM_GPUS_PER_NODE"] = str(self.gpus_per_node)
        for key, value in self.exported.items():
            env.setdefault(key, value)
        return env


def parse_sbatch(script: str) -> SbatchRequest:
    """Read the `#SBATCH` directives of `script` (never raises; bad values land in `errors`)."""
    limit = _first_command(script)
    opts: dict[str, str] = {}
    req = SbatchRequest()
    for m in _DIRECTIVE.finditer(script):
        if m.start() > 0 and script[m.start() - 1] != "\n":
            continue  # not at the start of a line: not a directive
        if m.start() >= limit:
            if len(req.ignored_directives) < 32:
                req.ignored_directives.append(script.count("\n", 0, m.start()) + 1)
            continue
        if not req.heterogeneous:  # a het job's request is its first component's, not a blend of all
            _read_directive(m.group(1), opts, req)
    _apply(opts, req)
    return req


def _first_command(script: str) -> int:
    """Offset of the first line that is neither blank nor a comment: sbatch stops reading there."""
    pos = 0
    n = len(script)
    while pos < n:
        end = script.find("\n", pos)
        end = n if end < 0 else end
        line = script[pos:end].strip()
        if line and not line.startswith("#"):
            return pos
        pos = end + 1
    return n


def _read_directive(text: str, opts: dict[str, str], req: SbatchRequest) -> None:
    try:
        # most directives have no quotes or comments, and str.split is 20x cheaper than shlex
        words = text.split() if not any(c in text for c in "\"'#\\") else shlex.split(text, comments=True)
    except ValueError:
        req.errors.append(f"#SBATCH {text.strip()}: unbalanced quotes")
        return
    i = 0
    while i < len(words):
        w = words[i]
        i += 1
        if w in ("hetjob", "packjob"):
            req.heterogeneous = True
            break  # what follows on the line belongs to the next component
        name, value = _option(w)
        if name is None:
            continue
        if value is None and name not in _FLAGS and i < len(words) and not words[i].startswith("-"):
            value = words[i]
            i += 1
        opts[name] = value if value is not None else ""


def _option(word: str) -> tuple[str | None, str | None]:
    if word.startswith("--"):
        name, eq, value = word[2:].partition("=")
        if name not in _LONG and name not in _FLAGS:
            matches = [o for o in _LONG if o.startswith(name)]  # getopt_long takes unique prefixes
            name = matches[0] if len(matches) == 1 else name
        return name, value if eq else None
    if word.startswith("-") and len(word) >= 2:
        name = _SHORT.get(word[1], word[1])
        rest = word[2:].lstrip("=")
        return name, rest or None
    return None, None


def _apply(opts: dict[str, str], req: SbatchRequest) -> None:
    req.partition = opts.get("partition") or None
    req.constraint = opts.get("constraint") or None
    req.account = opts.get("account") or None
    req.qos = opts.get("qos") or None
    req.job_name = opts.get("job-name") or None
    req.comment = opts.get("comment")
    req.array = opts.get("array") or None
    req.mem = opts.get("mem") or opts.get("mem-per-gpu") or opts.get("mem-per-cpu") or None
    req.exclusive = "exclusive" in opts
    req.exported = _exported(opts.get("export", ""))
    for key, attr in (
        ("ntasks", "ntasks"),
        ("ntasks-per-node", "ntasks_per_node"),
        ("cpus-per-task", "cpus_per_task"),
    ):
        if key in opts:
            setattr(req, attr, _int(opts[key], key, req))
    if "nodes" in opts:
        lo, _, hi = opts["nodes"].partition("-")
        req.nodes = _int(lo, "nodes", req)
        req.nodes_max = _int(hi, "nodes", req) if hi else req.nodes
    if "time" in opts:
        req.time_raw = opts["time"]
        req.time_minutes = time_minutes(opts["time"])
        if req.time_minutes is None:
            req.errors.append(f"#SBATCH --time={opts['time']}: not a Slurm time (e.g. 2:00:00 or 1-12:00:00)")
    _apply_gpus(opts, req)


_EXPORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_EXPORTS = 64


def _exported(spec: str) -> dict[str, str]:
    """`--export=[ALL|NONE,]NAME=value,...`: the values the directive sets (a bare NAME passes the
    submitter's own value on, which the script does not show)."""
    out: dict[str, str] = {}
    for item in spec.split(",")[:_MAX_EXPORTS]:
        name, eq, value = item.partition("=")
        if eq and _EXPORT_NAME.fullmatch(name):
            out[name] = value
    return out


def _apply_gpus(opts: dict[str, str], req: SbatchRequest) -> None:
    if "gres" in opts:
        req.gres = opts["gres"]
        for item in opts["gres"].split(","):
            parts = item.replace("gres/", "").split(":")
            if parts[0] != "gpu":
                continue
            count_text = parts[-1] if len(parts) > 1 and parts[-1].isdigit() else "1"
            req.gpu_type = (
                parts[1] if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()) else None
            )
            req.gpus_per_node = int(count_text)
    for key in ("gpus-per-node", "gpus", "gpus-per-task"):
        if key not in opts:
            continue
        m = _GPU_SPEC.match(opts[key])
        if m is None:
            req.errors.append(f"#SBATCH --{key}={opts[key]}: expected [type:]count, e.g. --{key}=a100:2")
            continue
        req.gpu_type = m.group("type") or req.gpu_type
        count = int(m.group("count"))
        if key == "gpus-per-node":
            req.gpus_per_node = count
        elif key == "gpus":
            req.gpus_total = count
            if req.gpus_per_node is None and (req.nodes or 1) == 1:
                req.gpus_per_node = count
        else:
            req.gpus_per_task = count
            tasks = req.ntasks_per_node or (req.ntasks if (req.nodes or 1) == 1 else None) or 1
            req.gpus_per_node = req.gpus_per_node or count * tasks


def _int(text: str, key: str, req: SbatchRequest) -> int | None:
    try:
        return int(text)
    except ValueError:
        req.errors.append(f"#SBATCH --{key}={text}: expected a whole number")
        return None


def time_minutes(text: str) -> int | None:
    """Slurm's time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (UNLIMITED/infinite -> None)."""
    days = 0
    body = text.strip()
    if "-" in body:
        d, _, body = body.partition("-")
        if not d.isdigit():
            return None
        days = int(d)
    parts = body.split(":")
    if not all(p.isdigit() for p in parts) or not 1 <= len(parts) <= 3:
        return None
    nums = [int(p) for p in parts]
    if days or "-" in text:
        h, m, s = [*nums, 0, 0][:3]
    elif len(nums) == 3:
        h, m, s = nums
    else:
        h, m, s = 0, nums[0], nums[1] if len(nums) > 1 else 0
    return days * 1440 + h * 60 + m + (1 if s else 0)
