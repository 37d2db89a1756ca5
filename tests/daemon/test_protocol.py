"""The wire format: validation, limits, Slurm sentinels, non-UTF-8 scripts."""

from __future__ import annotations

import json

import pytest

from omnipilot.daemon.protocol import AdviseReply, ProtocolError, decode_request, request_id_of


def _body(**kw: object) -> bytes:
    return json.dumps({"v": 1, "type": "advise", "id": "r1", **kw}).encode()


def test_valid_request_normalises_sentinels_and_lua_empty_tables() -> None:
    req = decode_request(
        _body(
            time_limit=4294967294,
            min_nodes=1.8446744073709552e19,
            cpus_per_task=65534,
            part_list={},
            argv={},
            comment="",
            num_nodes=2.0,
        ),
        1 << 16,
    )
    assert req.time_limit is None and req.min_nodes is None and req.cpus_per_task is None
    assert req.part_list == [] and req.argv == [] and req.comment is None
    assert req.num_nodes == 2 and isinstance(req.num_nodes, int)


def test_oversize_request_is_refused_with_sizes() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit of 100"):
        decode_request(_body(script="x" * 200), 100)


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        (b"not json", "not JSON"),
        (b"[1,2]", "JSON object"),
        (json.dumps({"v": 2, "id": "a"}).encode(), "version 2"),
        (json.dumps({"v": 1}).encode(), "'id'"),
        (json.dumps({"v": 1, "id": "a", "part_list": 5}).encode(), "part_list"),
    ],
)
def test_bad_requests_say_what_is_wrong(body: bytes, msg: str) -> None:
    with pytest.raises(ProtocolError, match=msg):
        decode_request(body, 1 << 16)


def test_non_utf8_script_is_still_answered() -> None:
    raw = b'{"v":1,"id":"r9","script":"vllm serve x \xff\xfe"}'
    assert "vllm serve" in (decode_request(raw, 1 << 16).script or "")


def test_reply_echoes_id_and_omits_empty_fields() -> None:
    out = json.loads(AdviseReply(id="r1", action="suggest", comment="c").encode())
    assert out == {
        "v": 1,
        "id": "r1",
        "status": "ok",
        "action": "suggest",
        "comment": "c",
        "set": {},
        "env": {},
    }
    assert request_id_of(b'{"id": "late-1"}') == "late-1" and request_id_of(b"\x00") == ""
