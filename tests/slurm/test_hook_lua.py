"""slurm/job_submit.lua in a lua5.1 harness (tests/slurm/lua/hook_harness.lua) whose `slurm` table
and job_desc are stand-ins for slurmctld's, against a real pyzmq ROUTER that each test scripts.
Real-Slurm runs of this same file are the integration tests' (tests/integration/)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .lua_servers import SLURM_DIR, ScriptedRouter, requires_lua, run_lua

pytestmark = requires_lua

SLACK_MS = 40  # "within the timeout plus a few ms", loose enough for 2 shared cores
VLLM_SCRIPT = (
    "#!/bin/bash\n#SBATCH --gpus-per-node=2\nvllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2\n"
)

Reply = Callable[[dict[str, Any]], dict[str, Any] | bytes | None]


def _lua_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)  # ASCII JSON strings are valid Lua string literals


class Rig:
    """The hook copied into a temp dir with rendered settings, plus a scripted daemon."""

    def __init__(self, root: Path, router_factory: Callable[..., ScriptedRouter]) -> None:
        self.root = root
        self._router_factory = router_factory
        self.router: ScriptedRouter | None = None
        for name in ("job_submit.lua", "omnipilot_zmtp.lua"):
            shutil.copy(SLURM_DIR / name, root / name)

    def daemon(self, reply: Reply, delay_s: float = 0.0) -> str:
        def handler(body: bytes) -> tuple[float, bytes | None]:
            answer = reply(json.loads(body))
            if answer is None or isinstance(answer, bytes):
                return delay_s, answer
            return delay_s, json.dumps(answer).encode()

        self.router = self._router_factory(f"ipc://{self.root}/d.sock", handler)
        return str(self.router.endpoint)

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.router.received] if self.router else []

    def run(self, jobs: list[dict[str, Any]], **settings: object) -> tuple[list[str], list[dict[str, Any]]]:
        if settings:
            lines = [f"  {k} = {_lua_value(v)}," for k, v in settings.items()]
            (self.root / "omnipilot_settings.lua").write_text("return {\n" + "\n".join(lines) + "\n}\n")
        out = run_lua("hook_harness.lua", str(self.root / "job_submit.lua"), {"jobs": jobs})
        return list(out[0]["load_info"] or []), out[1:]


@pytest.fixture
def rig(short_dir: Path, router_factory: Callable[..., ScriptedRouter]) -> Rig:
    return Rig(short_dir, router_factory)


def _ok(req: dict[str, Any], **fields: object) -> dict[str, Any]:
    return {"v": 1, "id": req["id"], "status": "ok", **fields}


def _job(script: str | None = VLLM_SCRIPT, **fields: object) -> dict[str, Any]:
    job: dict[str, Any] = {"job": dict(fields), "environment": {"HOME": "/home/u"}}
    if script is not None:
        job["job"]["script"] = script
    return job


def test_suggest_appends_the_comment_and_tells_the_user(rig: Rig) -> None:
    suggestion = "omnipilot suggest: h100x1 fp8 tp1 ≈31k tok/s [28k–34k] conf=high (asked a100x2 bf16)"
    message = "OmniPilot: 1 x H100 fp8 serves this at 50% of the GPU-hours"
    endpoint = rig.daemon(
        lambda r: _ok(
            r, action="suggest", comment=suggestion, user_message=message, set={"gres": "gpu:h100:1"}
        )
    )
    job = _job(comment="my run", partition="a100", tres_per_node="gres:gpu:2", time_limit=4294967294)
    job["environment"] = {"HF_TOKEN": "hf_secret123", "HOME": "/home/u"}
    job["argv"] = ["serve.sh", "--port", "8000"]
    job["part_list"] = ["h100", "a100"]
    _, (res,) = rig.run([job], socket=endpoint, timeout_ms=500)
    assert res["rc"] == 0
    assert res["job"]["comment"] == "my run; " + suggestion
    assert res["user"] == [message]  # a '%' in the text must not go through string.format
    assert res["job"]["tres_per_node"] == "gres:gpu:2"  # suggest never rewrites, even if told to
    assert list(res["writes"]) == ["comment"]
    (req,) = rig.requests()
    assert (req["v"], req["type"], req["submit_uid"]) == (1, "advise", 1000)
    assert req["script"] == VLLM_SCRIPT and req["script_truncated"] is False
    assert req["part_list"] == ["a100", "h100"] and req["argv"] == ["serve.sh", "--port", "8000"]
    assert (req["comment"], req["partition"], req["time_limit"]) == ("my run", "a100", 4294967294)
    assert "hf_secret123" not in rig.router.received[0].decode()  # type: ignore[union-attr]


def test_enforce_sets_whitelisted_fields_env_and_script(rig: Rig) -> None:
    new_script = VLLM_SCRIPT.replace("--tensor-parallel-size 2", "--tensor-parallel-size 1")
    reply = {
        "action": "enforce",
        "comment": "omnipilot enforce: h100x1 fp8 tp1",
        # Clears must land before the rewrite: on 22.05 gres and tres_per_node are one field.
        "set": {"gres": "gpu:h100:1", "tres_per_node": "", "tres_per_job": "", "partition": "h100"}
        | {"name": "not-whitelisted", "time_limit": "10"},
        "env": {"OMNIPILOT_TP": "1", "OMNIPILOT_QUANTIZATION": "fp8", "BAD NAME": "x"},
        "script": new_script,
    }
    endpoint = rig.daemon(lambda r: _ok(r, **reply))
    job = _job(name="serve", partition="a100", tres_per_job="gres:gpu:4", tres_per_node="gres:gpu:2")
    _, (res,) = rig.run([job], socket=endpoint, timeout_ms=500)
    assert res["rc"] == 0
    assert res["job"]["tres_per_node"] == "gres:gpu:h100:1"
    assert "tres_per_job" not in res["job"]
    assert (res["job"]["partition"], res["job"]["name"]) == ("h100", "serve")
    assert res["job"]["comment"] == "omnipilot enforce: h100x1 fp8 tp1"
    assert res["job"]["script"] == new_script
    assert res["environment"] == {"HOME": "/home/u", "OMNIPILOT_TP": "1", "OMNIPILOT_QUANTIZATION": "fp8"}


def test_only_candidates_reach_the_daemon(rig: Rig) -> None:
    endpoint = rig.daemon(lambda r: _ok(r, action="none"))
    jobs = [
        _job("#!/bin/bash\nsrun hostname\n", comment="plain"),
        _job("#!/bin/bash\nsrun VLLM serve m\n", comment="upper"),
        _job("#!/bin/bash\n#OMNIPILOT model=m\npython app.py\n", comment="tag"),
        _job(None, comment="OmniPilot: model=m"),
        _job(None, comment="salloc"),
        _job(VLLM_SCRIPT + "#OMNIPILOT off\n", comment="optout"),
        _job(VLLM_SCRIPT + "#omnipilot  Off", comment="optout-last-line"),
        _job(VLLM_SCRIPT + "#OMNIPILOT offload=1\n", comment="not-optout"),
    ]
    _, results = rig.run(jobs, socket=endpoint, timeout_ms=500)
    assert [r["rc"] for r in results] == [0] * len(jobs)
    assert [q["comment"] for q in rig.requests()] == ["upper", "tag", "OmniPilot: model=m", "not-optout"]
    assert all(not r["writes"] for r in results)


def test_kill_switch_skips_the_daemon(rig: Rig) -> None:
    endpoint = rig.daemon(lambda r: _ok(r, action="suggest", comment="advice"))
    (rig.root / "off").touch()
    _, (res,) = rig.run([_job()], socket=endpoint, timeout_ms=500, kill_switch=str(rig.root / "off"))
    assert res["rc"] == 0 and not res["writes"] and rig.requests() == []


@pytest.mark.parametrize("down", ["no-socket", "never-answers"])
def test_daemon_down_fails_open_within_the_timeout(rig: Rig, down: str) -> None:
    if down == "never-answers":
        endpoint, note = rig.daemon(lambda r: None), "omnipilot: unavailable (timeout)"
    else:
        endpoint = f"ipc://{rig.root}/missing.sock"
        note = "omnipilot: unavailable (connect: no such file or directory)"
    _, (res,) = rig.run([_job(comment="mine")], socket=endpoint, timeout_ms=50)
    assert res["rc"] == 0
    assert res["job"]["comment"] == "mine; " + note
    assert res["ms"] <= 50 + SLACK_MS
    assert any("omnipilot: daemon unavailable" in line for line in res["info"])


def test_fail_closed_rejects_with_a_clear_message(rig: Rig) -> None:
    _, (res,) = rig.run([_job(comment="mine")], socket=f"ipc://{rig.root}/missing.sock", fail_closed=True)
    assert res["rc"] == 2072
    assert "fail_closed" in res["user"][0] and "OmniPilot could not check" in res["user"][0]
    assert not res["writes"]


@pytest.mark.parametrize(
    ("reply", "note"),
    [
        (lambda r: _ok(r, action="suggest", comment="x") | {"id": "someone-else"}, "reply id mismatch"),
        (lambda r: b"<html>not json</html>", "bad reply"),
        (lambda r: _ok(r, status="error", error="model catalog not loaded"), "daemon error: model catalog"),
        (lambda r: _ok(r, action="teleport"), "bad reply action teleport"),
        (lambda r: _ok(r, action="suggest", comment={"not": "text"}) | {"v": 1}, None),
    ],
    ids=["wrong-id", "not-json", "error-status", "unknown-action", "odd-comment-type"],
)
def test_bad_replies_fail_open_with_a_note(rig: Rig, reply: Reply, note: str | None) -> None:
    endpoint = rig.daemon(reply)
    _, (res,) = rig.run([_job(comment="mine")], socket=endpoint, timeout_ms=500)
    assert res["rc"] == 0
    expected = "mine" if note is None else "mine; omnipilot: unavailable (" + note
    assert res["job"]["comment"].startswith(expected)


def test_reply_for_another_request_then_a_good_one(rig: Rig) -> None:
    stale: list[str] = []

    def reply(req: dict[str, Any]) -> dict[str, Any]:
        stale.append(req["id"])
        return _ok(req, action="suggest", comment="advice") | {"id": stale[0]}  # always the first id

    endpoint = rig.daemon(reply)
    _, results = rig.run([_job(comment="a"), _job(comment="b")], socket=endpoint, timeout_ms=500)
    assert results[0]["job"]["comment"] == "a; advice"
    assert results[1]["job"]["comment"] == "b; omnipilot: unavailable (reply id mismatch)"
    assert len(set(stale)) == 2  # every request has its own id


@pytest.mark.parametrize("recovers", [True, False])
def test_breaker_opens_after_three_failures_then_tries_once(rig: Rig, recovers: bool) -> None:
    # a daemon that answers nonsense is broken for everyone: that counts for the breaker
    def reply(req: dict[str, Any]) -> dict[str, Any]:
        if len(rig.requests()) <= 3 or not recovers:
            return _ok(req, action="bogus")
        return _ok(req, action="suggest", comment="advice")

    endpoint = rig.daemon(reply)
    jobs = [_job(comment=str(i)) for i in range(4)] + [
        _job(comment="trial") | {"sleep_ms": 600},
        _job(comment="after"),
    ]
    _, res = rig.run(jobs, socket=endpoint, timeout_ms=500, breaker_failures=3, breaker_cooloff_s=0.5)
    comments = [r["job"]["comment"] for r in res]
    assert comments[:3] == [f"{i}; omnipilot: unavailable (bad reply action bogus)" for i in range(3)]
    assert comments[3] == "3; omnipilot: unavailable (breaker open)"
    assert res[3]["ms"] < 20  # no round trip while open (the request count says so too)
    if recovers:
        assert comments[4:] == ["trial; advice", "after; advice"]
        assert len(rig.requests()) == 5
    else:
        assert comments[4:] == [
            "trial; omnipilot: unavailable (bad reply action bogus)",
            "after; omnipilot: unavailable (breaker open)",
        ]
        assert len(rig.requests()) == 4


def test_error_replies_count_against_their_job_not_the_breaker(rig: Rig) -> None:
    # one user's malformed job gets an error reply; it must not switch advice off for the others
    endpoint = rig.daemon(lambda req: _ok(req, status="error", error="boom"))
    jobs = [_job(comment=str(i)) for i in range(5)]
    _, res = rig.run(jobs, socket=endpoint, timeout_ms=500, breaker_failures=3, breaker_cooloff_s=30)
    comments = [r["job"]["comment"] for r in res]
    assert comments == [f"{i}; omnipilot: unavailable (daemon error: boom)" for i in range(5)]
    assert len(rig.requests()) == 5  # every job reached the daemon: the breaker stayed closed


def test_reject_action_returns_the_code_and_message(rig: Rig) -> None:
    codes = iter([2050, None])

    def reply(req: dict[str, Any]) -> dict[str, Any]:
        code = next(codes)
        extra = {} if code is None else {"code": code}
        return _ok(req, action="reject", user_message="Llama-3-70B bf16 fits no node you may use", **extra)

    endpoint = rig.daemon(reply)
    _, res = rig.run([_job(), _job()], socket=endpoint, timeout_ms=500)
    assert [r["rc"] for r in res] == [2050, 2072]
    assert res[0]["user"] == ["Llama-3-70B bf16 fits no node you may use"]


def test_long_script_is_truncated_on_a_utf8_boundary(rig: Rig) -> None:
    endpoint = rig.daemon(lambda r: _ok(r, action="none"))
    script = "#!/bin/bash\nvllm serve m\n# " + "é" * 200  # 2-byte characters across the cut
    _, _ = rig.run([_job(script)], socket=endpoint, timeout_ms=500, max_script_bytes=101)
    raw = rig.router.received[0]  # type: ignore[union-attr]
    req = json.loads(raw.decode("utf-8"))  # strict: a split character would raise here
    assert req["script_truncated"] is True
    sent = req["script"].encode()
    assert 100 <= len(sent) <= 101 and script.encode().startswith(sent)


def test_lua_error_inside_the_hook_fails_open(rig: Rig) -> None:
    endpoint = rig.daemon(lambda r: _ok(r, action="enforce", set={"partition": "h100"}))
    job = _job(comment="mine") | {"unwritable": ["partition"]}
    _, (res,) = rig.run([job], socket=endpoint, timeout_ms=500)
    assert res["rc"] == 0
    assert res["job"]["comment"] == "mine; omnipilot: unavailable (hook error)"
    assert any("hook error" in line and "partition" in line for line in res["info"])


def test_missing_or_wrong_settings_fall_back_to_defaults(rig: Rig) -> None:
    load, _ = rig.run([])
    assert any("settings not loaded" in line for line in load)
    assert any("socket ipc:///run/omnipilot/omnipilot.sock" in line for line in load)
    load, _ = rig.run([], timeout_ms="fast", socket="ipc:///tmp/x.sock")
    assert any("setting timeout_ms has the wrong type" in line for line in load)
    assert any("socket ipc:///tmp/x.sock" in line for line in load)


def test_slashes_are_sent_unescaped_and_round_trip(rig: Rig) -> None:
    endpoint = rig.daemon(lambda r: _ok(r, action="none"))
    script = '#!/bin/bash\nvllm serve /models/qwen --chat-template "a\\/b\\\\/c"\n'
    rig.run([_job(script)], socket=endpoint, timeout_ms=500)
    raw = rig.router.received[0]  # type: ignore[union-attr]
    assert json.loads(raw)["script"] == script
    assert b'"#!/bin/bash' in raw and b"serve /models/qwen" in raw  # paths not doubled to \/
