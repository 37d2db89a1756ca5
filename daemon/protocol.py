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
SETTABLE_FIELDS = ("gres", "partition", "tres_per_node", "tres_per_job", "tres_per_task")


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
    min_mem_per_node: int | None = None
    min_mem_per_cpu: int | None = None
    features: str | None = None
    req_nodes: str | None = None
    exc_nodes: str | None = None
    array_inx: str | None = None
    argv: list[str] = []
    fail_open_since_last: int = Field(default=0, ge=0, description="jobs the hook let through unadvised")

    @field_validator("v")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != PROTOCOL_VERSION:
            raise ValueError(f"protocol version {v} is not supported (this daemon speaks {PROTOCOL_VERSION})")
        return v

    @field_validator(
        "submit_uid",
        "num_nodes",
        "min_nodes",
        "max_nodes",
        "num_tasks",
        "time_limit",
        "cpus_per_task",
        "min_mem_per_node",
        "min_mem_per_cpu",
        mode="before",
    )
    @classmethod
    def _sentinels(cls, v: Any) -> Any:
        return _no_sentinel(v)

    @field_validator("part_list", "argv", mode="before")
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


def decode_request(body: bytes, max_bytes: int) -> AdviseRequest:
    """Parse and validate one request frame; ProtocolError says what was wrong."""
    if len(body) > max_bytes:
        raise ProtocolError(f"request of {len(body)} bytes exceeds the limit of {max_bytes}")
    try:
        # batch scripts need not be UTF-8: undecodable bytes must not cost the job its advice
        raw = json.loads(body.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"request is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProtocolError("request must be a JSON object")
    try:
        return AdviseRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(f"invalid request field {field!r}: {first['msg']}") from exc


def request_id_of(body: bytes) -> str:
    """Best-effort id of a message that failed validation, so the error reply can still match it."""
    try:
        raw = json.loads(body)
        rid = raw.get("id") if isinstance(raw, dict) else None
        return str(rid)[:128] if rid is not None else ""
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
