"""The daemon's request path without Slurm: a fixed cluster snapshot, the bundled model, every mode."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from omnipilot.config import Settings
from omnipilot.daemon.clusterstate.cache import NodeState, PartitionState, Snapshot, StateCache
from omnipilot.daemon.modes import ModeStore
from omnipilot.daemon.protocol import AdviseRequest
from omnipilot.daemon.service import LAZY_KEY, AdviceService

QWEN = """#!/bin/bash
#SBATCH -p a100 --gres=gpu:a100:2
vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2 --max-model-len 8192
"""


def snapshot() -> Snapshot:
    kinds = {"a100": 4, "h100": 8, "h200": 8}
    nodes = {
        f"{k}-1": NodeState(
            name=f"{k}-1", partitions=[k, "gpu"], gres_type=k, gpus_total=n, gpus_used=0, states=["IDLE"]
        )
        for k, n in kinds.items()
    }
    parts = {k: PartitionState(name=k, nodes=[f"{k}-1"], max_time_min=2880) for k in kinds}
    parts["gpu"] = PartitionState(name="gpu", nodes=list(nodes), max_time_min=2880)
    return Snapshot(taken_at=time.time(), nodes=nodes, partitions=parts)


@pytest.fixture
def service(tmp_path: Path) -> AdviceService:
    settings = Settings()
    settings.daemon.state_dir = tmp_path
    state = StateCache(snapshot, 60)
    state.refresh()
    svc = AdviceService(settings, state, ModeStore(tmp_path, "suggest"))
    svc.load_model()
    return svc


def req(script: str, **kw: object) -> AdviseRequest:
    base: dict[str, object] = {
        "v": 1,
        "id": "r1",
        "script": script,
        "partition": "a100",
        "tres_per_node": "gres:gpu:a100:2",
        "part_list": ["a100", "h100", "h200", "gpu"],
    }
    return AdviseRequest.model_validate({**base, **kw})


def test_a_shape_read_from_the_name_is_suggested_never_enforced(service: AdviceService) -> None:
    # an unknown family with its size in the name: memory fit from a stand-in shape, low confidence
    service.modes.set("enforce")
    reply, record = service.answer(req("#!/bin/bash\nvllm serve my-lab/private-13b\n"))
    assert record["outcome"] == "advised" and reply.action == "suggest"
    assert reply.set == {} and reply.script is None and reply.env == {}
    assert reply.user_message is not None and "not enforced: the model is not confident" in reply.user_message


def test_suggest_names_the_arm_the_request_and_the_token(service: AdviceService) -> None:
    reply, record = service.answer(req(QWEN))
    assert reply.action == "suggest" and reply.set == {} and reply.script is None
    assert reply.comment and reply.comment.startswith(f"omnipilot[{reply.token}] suggest: ")
    assert reply.user_message and "Qwen/Qwen2.5-7B" in reply.user_message
    assert record["token"] == reply.token and record["outcome"] == "advised"


def test_off_and_observe_change_nothing_and_say_nothing(service: AdviceService) -> None:
    service.modes.set("off")
    off, _ = service.answer(req(QWEN))
    service.modes.set("observe")
    obs, rec = service.answer(req(QWEN))
    assert off.action == "none" and off.comment is None
    assert obs.action == "observe" and obs.comment is None and obs.user_message is None
    assert rec["outcome"] == "advised"  # the would-have decision is still recorded


def test_enforce_rewrites_within_the_users_partitions(service: AdviceService) -> None:
    service.modes.set("enforce")
    service.settings.enforce.allow_low_confidence = True
    reply, _ = service.answer(
        req(QWEN, part_list=["h200"], partition="h200", tres_per_node="gres:gpu:h200:2")
    )
    assert reply.action == "enforce", reply.user_message
    assert reply.set["partition"] == "h200" and reply.set["gres"].startswith("gpu:h200:")
    assert reply.env["OMNIPILOT_TP"] == reply.set["gres"].rsplit(":", 1)[1]


def test_enforce_degrades_when_the_job_pins_nodes(service: AdviceService) -> None:
    service.modes.set("enforce")
    service.settings.enforce.allow_low_confidence = True
    reply, record = service.answer(req(QWEN, req_nodes="a100-1"))
    assert reply.action == "suggest" and reply.set == {}
    assert "pins nodes" in (reply.user_message or "") and "pins nodes" in str(record.get("degraded"))


def test_enforce_scope_outside_partition_list_suggests(service: AdviceService) -> None:
    service.modes.set("enforce")
    service.settings.enforce.allow_low_confidence = True
    service.settings.enforce.partitions = ["h100"]
    reply, _ = service.answer(req(QWEN))
    assert reply.action == "suggest" and "scoped to partitions h100" in (reply.user_message or "")


@pytest.mark.parametrize(
    ("script", "outcome", "action", "text"),
    [
        ("#!/bin/bash\n#SBATCH --gres=gpu:1\npython train.py\n", "not_serving", "none", None),
        ("#!/bin/bash\n#OMNIPILOT off\nvllm serve Qwen/Qwen2.5-7B-Instruct\n", "opted_out", "none", None),
        ("#!/bin/bash\nvllm serve my-lab/private-chat\n", "unknown_model", "suggest", "not in the catalog"),
        ("#!/bin/bash\nvllm serve BAAI/bge-m3\n", "out_of_scope", "suggest", "predicts text generation"),
        (
            "#!/bin/bash\n#OMNIPILOT concurrency=lots\nvllm serve Qwen/Qwen2.5-7B-Instruct\n",
            "tag_error",
            "suggest",
            "concurrency",
        ),
    ],
)
def test_refusals_leave_the_job_alone(
    service: AdviceService, script: str, outcome: str, action: str, text: str | None
) -> None:
    service.modes.set("enforce")
    reply, record = service.answer(req(script))
    assert (
        record["outcome"] == outcome and reply.action == action and reply.set == {} and reply.script is None
    )
    if text:
        assert text in (reply.user_message or "")


def test_unknown_model_sized_by_params_tag_gets_advice(service: AdviceService) -> None:
    script = "#!/bin/bash\n#OMNIPILOT params=13 family=llama2\nvllm serve my-lab/private-13b\n"
    reply, record = service.answer(req(script))
    assert record["outcome"] == "advised" and reply.comment and " suggest: " in reply.comment


def test_a_model_that_fits_nowhere_names_the_smallest_arm_elsewhere(service: AdviceService) -> None:
    script = (
        "#!/bin/bash\n#OMNIPILOT gpu=a100\n"
        "vllm serve deepseek-ai/DeepSeek-R1-Distill-Llama-70B -tp 4 --max-model-len 131072\n"
    )
    reply, record = service.answer(req(script, tres_per_node="gres:gpu:a100:4"))
    assert record["outcome"] == "no_fit" and reply.set == {}
    assert "does not fit" in (reply.user_message or "") and "elsewhere" in (reply.user_message or "")


def test_a_broken_model_file_keeps_the_old_model(service: AdviceService, tmp_path: Path) -> None:
    before = service.model_version
    bad = tmp_path / "bad-model"
    bad.mkdir()
    (bad / "manifest.json").write_text("{ not json")
    service.settings.model.path = str(bad)
    warning = service.load_model()
    assert warning and "keeping" in warning and service.model_version == before
    reply, _ = service.answer(req(QWEN))
    assert reply.action == "suggest"


def test_enforce_never_resizes_data_parallel_jobs(service: AdviceService) -> None:
    service.modes.set("enforce")
    service.settings.enforce.allow_low_confidence = True
    script = QWEN.replace("--tensor-parallel-size 2", "--tensor-parallel-size 1 --data-parallel-size 2")
    reply, _ = service.answer(req(script))
    assert reply.action == "suggest" and reply.set == {} and "data- or pipeline-parallel" in (reply.user_message or "")


def test_script_pitfall_reaches_the_user(service: AdviceService) -> None:
    script = ("#!/bin/bash\n#SBATCH -p a100 --gres=gpu:a100:2\nvllm serve Qwen/Qwen2.5-7B-Instruct \\\n"
              "  # the model below\n  --tensor-parallel-size 2\n")  # fmt: skip
    reply, _ = service.answer(req(script))
    assert "never reach vLLM" in (reply.user_message or "")


FINE_TUNE_AWQ = """#!/bin/bash
#SBATCH -p h100 --gres=gpu:h100:1
vllm serve my-lab/Llama-3.1-8B-Instruct-medical-v2-AWQ --quantization awq --max-model-len 8192
"""


def _full(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the log writer writes it (its heavy parts are built after the reply)."""
    lazy = record.pop(LAZY_KEY)
    return {**record, **lazy()}


def test_a_fine_tune_keeps_its_own_weights_in_every_arm(service: AdviceService) -> None:
    """The catalog's AWQ/FP8/bf16 releases of the base model are other weights: offering them, or
    enforcing one, would serve a different model than the user's fine-tune."""
    service.modes.set("enforce")
    service.settings.enforce.allow_low_confidence = True
    reply, record = service.answer(
        req(FINE_TUNE_AWQ, partition="h100", tres_per_node="gres:gpu:h100:1", part_list=["h100", "h200", "a100"])
    )
    assert record["outcome"] == "advised", reply.user_message
    arms = _full(record)["arms"]
    assert arms
    assert {a["checkpoint"] for a in arms} == {"my-lab/Llama-3.1-8B-Instruct-medical-v2-AWQ"}
    assert {a["precision"] for a in arms} == {"awq"}
    assert "kept in every arm" in (reply.user_message or "")
    assert reply.script is None or "my-lab/Llama-3.1-8B-Instruct-medical-v2-AWQ" in reply.script
    assert reply.env.get("OMNIPILOT_MODEL") in (None, "my-lab/Llama-3.1-8B-Instruct-medical-v2-AWQ")


def test_a_quantized_copy_replaces_the_catalog_arm_of_its_precision(service: AdviceService) -> None:
    script = FINE_TUNE_AWQ.replace("my-lab/Llama-3.1-8B-Instruct-medical-v2-AWQ", "TheBloke/Llama-3.1-8B-Instruct-AWQ")
    _, record = service.answer(req(script, partition="h100", tres_per_node="gres:gpu:h100:1"))
    arms = _full(record)["arms"]
    awq = {a["checkpoint"] for a in arms if a["precision"] == "awq"}
    assert awq == {"TheBloke/Llama-3.1-8B-Instruct-AWQ"}
    assert {a["precision"] for a in arms} >= {"bf16", "awq"}  # a copy of a release: other releases stay arms


def test_the_decision_memo_tells_requests_apart(service: AdviceService) -> None:
    """Resubmissions reuse a decision, but a different request (GPU kind or count) is a different
    question: the honest fallback keeps *this* job's request, not the previous one's."""
    script = "#!/bin/bash\nvllm serve meta-llama/Llama-3.1-70B-Instruct --max-model-len 8192\n"
    parts = {"part_list": ["h100", "h200"]}
    _, first = service.answer(req(script, partition="h100", tres_per_node="gres:gpu:h100:4", **parts))
    _, second = service.answer(req(script, partition="h200", tres_per_node="gres:gpu:h200:2", **parts))
    one, two = _full(first), _full(second)
    assert one["asked"] != two["asked"]
    assert not any("h100x4" in n for n in two["notes"]), two["notes"]


def test_the_advice_shows_what_the_jobs_own_request_is_predicted_to_do(service: AdviceService) -> None:
    reply, _ = service.answer(req(QWEN))
    line = next(x for x in (reply.user_message or "").splitlines() if "advised" in x)
    asked = line.split("you asked ", 1)[1]
    assert asked.startswith("a100x2 bf16 tp2") and "tok/s" in asked, line


def test_a_smaller_gpu_count_lowers_the_cpu_minimum_sbatch_derived(service: AdviceService) -> None:
    """--gpus=2 --cpus-per-gpu=10 reaches the hook with min_cpus 20; rewritten to one GPU with 10 CPUs
    per GPU but 20 CPUs minimum, Slurm 24.11 rejects the job as never runnable."""
    service.modes.set("enforce")
    service.settings.enforce.allow_low_confidence = True
    reply, _ = service.answer(
        req(QWEN, part_list=["h200"],
            partition="h200", tres_per_node=None, tres_per_job="gres/gpu:2", cpus_per_tres="gres/gpu:10",
            min_cpus=20, pn_min_cpus=20)
    )  # fmt: skip
    assert reply.action == "enforce", reply.user_message
    gpus = int(reply.env["OMNIPILOT_TP"])
    per_gpu = int(reply.set["cpus_per_tres"].rsplit(":", 1)[1])
    assert gpus * per_gpu < 20, "the premise: the 7B model is advised one GPU"
    assert reply.set["min_cpus"] == reply.set["pn_min_cpus"] == str(gpus * per_gpu), reply.set


def test_a_site_wide_slo_no_arm_meets_is_said_not_a_crash(service: AdviceService) -> None:
    # the site's SLO, no job tag: formatting the note once raised TypeError inside decide()
    service.settings.utility.slo_ttft_s = 0.001
    reply, record = service.answer(req(QWEN))
    assert record["outcome"] == "advised", record
    notes = {**record, **record[LAZY_KEY]()}["notes"]
    assert "no arm meets the TTFT SLO of 0.001 s; ranked by utility regardless" in notes
