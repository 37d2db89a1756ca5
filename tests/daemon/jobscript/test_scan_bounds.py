"""The recogniser's work is bounded (issue 13): a script that starts more vLLM servers than
scan.MAX_SERVERS is reported as such, to be tagged, instead of every command being read; lines read
as shell and mentions looked at are capped. The cost itself is measured in
benchmarks/parse_jobscript.py (no timed unit tests)."""

from __future__ import annotations

import pytest

from omnipilot.catalog import Catalog
from omnipilot.daemon.jobscript.parse import TOO_MANY_SERVERS, parse_job
from omnipilot.daemon.jobscript.scan import MAX_MENTIONS, MAX_READ, MAX_SERVERS, scan
from omnipilot.daemon.jobscript.variables import ScriptVars

SERVER = "vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2\n"


@pytest.fixture(scope="module")
def cat() -> Catalog:
    return Catalog.load()


def _scan(text: str):  # type: ignore[no-untyped-def]
    return scan(text, ScriptVars(text, {}, None))


def test_up_to_the_cap_the_first_server_is_read(cat: Catalog) -> None:
    job = parse_job("#!/bin/bash\n" + SERVER * MAX_SERVERS, None, cat)
    assert job.is_serving and job.tp == 2 and job.model_name == "Qwen/Qwen2.5-7B"
    assert any(f"{MAX_SERVERS} vLLM server commands" in a for a in job.ambiguities), job.ambiguities
    assert TOO_MANY_SERVERS not in job.ambiguities


def test_too_many_servers_read_none_and_ask_for_tags(cat: Catalog) -> None:
    text = "#!/bin/bash\n" + SERVER * 1000
    res = _scan(text)
    assert res.too_many_servers
    # it stopped right after the server over the cap, not at the end of the script
    assert len(res.lines_read) == MAX_SERVERS + 1
    job = parse_job(text, None, cat)
    assert job.is_serving and job.command is None and job.tp is None and job.model is None
    assert TOO_MANY_SERVERS in job.ambiguities
    assert job.model_unresolved_hint == TOO_MANY_SERVERS and "tag the job" in TOO_MANY_SERVERS


def test_a_tagged_job_with_too_many_servers_is_advised_from_its_tags(cat: Catalog) -> None:
    text = "#!/bin/bash\n#OMNIPILOT model=Qwen/Qwen2.5-7B-Instruct tp=2\n" + SERVER * 1000
    job = parse_job(text, None, cat)
    assert job.is_serving and job.model_name == "Qwen/Qwen2.5-7B" and job.tp == 2
    assert job.sources["model"] == "script_tag"
    assert job.ambiguities, "the script must not be rewritten: no command was read"


def test_lines_read_as_shell_are_capped(cat: Catalog) -> None:
    text = "#!/bin/bash\n" + "echo starting vllm now\n" * 3000 + SERVER
    res = _scan(text)
    assert res.truncated and len(res.lines_read) == MAX_READ
    job = parse_job(text, None, cat)
    assert any("too many lines" in a for a in job.ambiguities), job.ambiguities


def test_comment_mentions_looked_at_are_capped() -> None:
    res = _scan("# vllm\n" * (MAX_MENTIONS + 500) + SERVER)
    assert res.truncated and res.comment_mentions == MAX_MENTIONS and not res.found


def test_variable_uses_count_against_the_same_read_cap() -> None:
    """16 variables holding vLLM text, each used 32 times: 512 lines the holders would have read."""
    text = "".join(f'C{i}="pip install vllm"\n' for i in range(16))
    text += "".join(f"echo $C{i} x{j}\n" for i in range(16) for j in range(32))
    res = _scan(text)
    assert len(res.holders) == 16
    assert res.truncated and len(res.lines_read) == MAX_READ
