"""The hook ↔ daemon wire format: versioned JSON in one ZeroMQ frame, validated on both sides.

The hook sends what slurmctld hands it (job_desc fields, part_list, submit uid) and the script
text; the daemon replies with what to change. Every request carries an id the reply echoes, so a
late reply is never taken for the next job's. See docs/wire-protocol.md.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROTOCOL_VERSION = 1
# Slurm's "no value" sentinels: NO_VAL16/INFINITE16 on 16-bit fields; NO_VAL and up on the rest.
# 64-bit ones reach us as doubles (Lua numbers, printed by cjson with 14 digits), hence the >=.
_SENTINELS16 = {0xFFFE, 0xFFFF}
_NO_VAL = 0xFFFFFFFE
SETTABLE_FIELDS = (
    "gres", "partition", "tres_per_node", "tres_per_job", "tres_per_task", "cpus_per_tres", "mem_per_tres",
    "min_cpus", "pn_min_cpus",
)  # fmt: skip
# The variables sbatch exports for the job's steps that encode its GPU request: the hook sends those it
# finds (only these names: the rest of the environment may hold secrets) so that enforce can give
# them the new request's values (Lua can overwrite a variable, not unset it).
GPU_ENV_NAMES = (
    "SLURM_GPUS", "SLURM_GPUS_PER_NODE", "SLURM_GPUS_PER_TASK", "SLURM_GPUS_PER_SOCKET",
    "SLURM_TRES_PER_TASK", "SLURM_CPUS_PER_GPU", "SLURM_MEM_PER_GPU", "SLURM_GRES",
)  # fmt: skip


class ProtocolError(ValueError):
    """A message that cannot be answered: too large, not JSON, or not a valid request."""


def _no_sentinel(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and (v >= _NO_VAL or v in _SENTINELS16 or v < 0):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


class AdviseRequest(BaseModel):
    # extra="ignore": a newer hook may send fields this daemon does not know yet
    model_config = ConfigDict(extra="ignore")

    v: int
    type: Literal["advise"] = "advise"
    id: str = Field(min_length=1, max_length=128)
    submit_uid: int | None = None
    script: str | None = None
    script_truncated: bool = False
    comment: str | None = None
    partition: str | None = None
    part_list: list[str] = []
    tres_per_node: str | None = None
    tres_per_job: str | None = None
    tres_per_task: str | None = None
    gres: str | None = None
    num_nodes: int | None = None
    min_nodes: int | None = None
    max_nodes: int | None = None
    num_tasks: int | None = None
    time_limit: int | None = Field(default=None, description="minutes")
    account: str | None = None
    qos: str | None = None
    name: str | None = None
    work_dir: str | None = None
    cpus_per_task: int | None = None
    # CPUs sbatch derived from the request (e.g. --gpus=2 --cpus-per-gpu=10 gives 20): a GPU rewrite
    # that keeps them is "never runnable" on 24.11, so enforce sets them for the new count
    min_cpus: int | None = None
    pn_min_cpus: int | None = None
    min_mem_per_node: int | None = None
    min_mem_per_cpu: int | None = None
    features: str | None = None
    req_nodes: str | None = None
    exc_nodes: str | None = None
    array_inx: str | None = None
    user_id: int | None = None
    group_id: int | None = None
    cpus_per_tres: str | None = None
    mem_per_tres: str | None = None
    gpu_env: dict[str, str] = Field(default_factory=dict, description="only names in GPU_ENV_NAMES")
    argv: list[str] = Field(default=[], max_length=1000)
    fail_open_since_last: int = Field(default=0, ge=0, description="jobs the hook let through unadvised")
    # The hook's Lua state (a new one after each reload) and its running count of fail-opens: the
    # daemon keeps the largest count per hook, so a count re-sent after a lost reply counts once.
    hook_id: str | None = Field(default=None, max_length=64)
    fail_open_total: int | None = Field(default=None, ge=0)
    # ids of earlier requests whose reply the hook gave up on (timeout, closed, bad reply): their
    # answers were not applied, and the decision log says so.
    given_up: list[str] = Field(default=[], max_length=64)
    # what the hook changed to keep the request under the size limit (docs/wire-protocol.md): control
    # bytes sent as "?" (the script then cannot be rewritten), the job's arguments left out
    script_sanitized: bool = False
    argv_dropped: bool = False

    def script_args(self) -> list[str] | None:
        """The batch script's own arguments (Slurm's argv[0] is the script itself); None when the
        hook left argv out to fit the size limit."""
        return None if self.argv_dropped else self.argv[1:]

    @field_validator("v")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != PROTOCOL_VERSION:
            raise ValueError(f"protocol version {v} is not supported (this daemon speaks {PROTOCOL_VERSION})")
        return v

    @field_validator("submit_uid", "user_id", "group_id", mode="before")
    @classmethod
    def _id_sentinels(cls, v: Any) -> Any:
        # 32-bit ids: only NO_VAL and up mean "none" (uid 65534, nobody, is NO_VAL16 on 16-bit fields)
        if isinstance(v, int | float) and not isinstance(v, bool) and (v >= _NO_VAL or v < 0):
            return None
        return int(v) if isinstance(v, float) and v.is_integer() else v

    @field_validator(
        "num_nodes",
        "min_nodes",
        "max_nodes",
        "num_tasks",
        "time_limit",
        "cpus_per_task",
        "min_cpus",
        "pn_min_cpus",
        "min_mem_per_node",
        "min_mem_per_cpu",
        mode="before",
    )
    @classmethod
    def _sentinels(cls, v: Any) -> Any:
        return _no_sentinel(v)

    @field_validator("gpu_env", mode="before")
    @classmethod
    def _gpu_env(cls, v: Any) -> Any:
        # a name outside the list is dropped, never stored: the hook is the only sender, but be strict
        if not isinstance(v, dict):
            return {}
        return {k: str(x) for k, x in v.items() if k in GPU_ENV_NAMES and isinstance(x, str | int)}

    @field_validator("part_list", "argv", "given_up", mode="before")
    @classmethod
    def _lua_empty_table(cls, v: Any) -> Any:
        # cjson encodes an empty Lua table as {} (an object), never as []
        return [] if v == {} or v is None else v

    @field_validator(
        "comment",
        "partition",
        "tres_per_node",
        "tres_per_job",
        "tres_per_task",
        "gres",
        "account",
        "qos",
        "name",
        "work_dir",
        "features",
        "req_nodes",
        "exc_nodes",
        "array_inx",
        "cpus_per_tres",
        "mem_per_tres",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, v: Any) -> Any:
        return None if v == "" or v == {} else v


Action = Literal["none", "observe", "suggest", "enforce", "reject"]


class AdviseReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: int = PROTOCOL_VERSION
    id: str
    status: Literal["ok", "error"] = "ok"
    action: Action = "none"
    token: str | None = None
    comment: str | None = Field(default=None, description="appended to the job's own comment")
    user_message: str | None = Field(default=None, description="shown on sbatch's stderr")
    set: dict[str, str] = Field(default_factory=dict, description=f"job_desc fields; only {SETTABLE_FIELDS}")
    env: dict[str, str] = Field(default_factory=dict)
    script: str | None = None
    error: str | None = None

    def encode(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def _loads(body: bytes) -> Any:
    try:
        # batch scripts need not be UTF-8: undecodable bytes must not cost the job its advice
        return json.loads(body.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"request is not JSON: {exc.msg} at byte {exc.pos}") from exc
    except RecursionError as exc:  # `[` x 1000: the C scanner recurses per level
        raise ProtocolError("request is nested too deeply to be a request") from exc


def decode_request(body: bytes, max_bytes: int, script: bytes | None = None) -> AdviseRequest:
    """Parse and validate one request: its JSON frame and, where the hook sent it so, the script as
    a raw second frame. ProtocolError says what was wrong; nothing else is raised."""
    size = len(body) + len(script or b"")
    if size > max_bytes:
        raise ProtocolError(f"request of {size} bytes exceeds the limit of {max_bytes}")
    raw = _loads(body)
    if not isinstance(raw, dict):
        raise ProtocolError("request must be a JSON object")
    if script is not None:
        try:
            raw["script"] = script.decode("utf-8")
        except UnicodeDecodeError:
            # advised all the same, but never rewritten: U+FFFD in place of the bytes would change them
            raw["script"], raw["script_sanitized"] = script.decode("utf-8", errors="replace"), True
    try:
        return AdviseRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])[:64]
        raise ProtocolError(f"invalid request field '{field}': {first['msg'][:200]}") from exc
    except RecursionError as exc:
        raise ProtocolError("request is nested too deeply to be a request") from exc


def request_id_of(body: bytes) -> str:
    """Best-effort id of a message that failed validation, so the error reply can still match it."""
    try:
        raw = json.loads(body.decode("utf-8", errors="replace"))
        rid = raw.get("id") if isinstance(raw, dict) else None
        return rid[:128] if isinstance(rid, str) else ""
    except (ValueError, RecursionError):  # never raises: it runs inside the error path
        return ""
