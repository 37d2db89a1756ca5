"""The Lua hook sends exactly the job_desc fields the daemon's protocol model reads: a field added on
one side only would be sent and silently dropped, or expected and never sent."""

from __future__ import annotations

import re

from omnipilot.daemon.protocol import AdviseRequest
from omnipilot.paths import packaged

# Fields of the request that the hook builds itself rather than copying from job_desc.
HOOK_BUILT = {
    "v", "type", "id", "submit_uid", "script", "script_truncated", "script_sanitized", "part_list", "argv",
    "argv_dropped", "fail_open_since_last", "fail_open_total", "hook_id", "given_up", "gpu_env",
}  # fmt: skip
# Set by the daemon from the hook's raw script frame (docs/wire-protocol.md), not in the JSON.
FROM_SCRIPT_FRAME = {"script", "script_sanitized"}


def _lua_table(name: str) -> list[str]:
    text = packaged("omnipilot.slurm", "job_submit.lua").read_text()
    m = re.search(rf"local {name} = \{{(.*?)\}}", text, re.S)
    assert m, f"job_submit.lua has no `local {name} = {{...}}`"
    return re.findall(r'"(\w+)"', m.group(1))


def test_the_hook_sends_the_fields_the_protocol_reads() -> None:
    sent = _lua_table("FIELDS")
    assert len(sent) == len(set(sent)), "a field is listed twice in job_submit.lua"
    read = set(AdviseRequest.model_fields) - HOOK_BUILT
    assert set(sent) - read == set(), "sent by the hook, dropped by the daemon"
    assert read - set(sent) == set(), "read by the daemon, never sent by the hook"


def test_every_field_the_hook_builds_is_set_by_the_hook() -> None:
    text = packaged("omnipilot.slurm", "job_submit.lua").read_text()
    for name in HOOK_BUILT - {"v", "type", "id"} - FROM_SCRIPT_FRAME:
        assert re.search(rf"\b(req\.{name}\b|{name} = )", text), f"job_submit.lua never sets {name}"
    assert HOOK_BUILT <= set(AdviseRequest.model_fields), "a hook-built field the protocol does not know"


def test_the_hook_only_sets_fields_it_also_sends() -> None:
    assert set(_lua_table("SETTABLE")) <= set(_lua_table("FIELDS"))
