"""`omnipilot record` against the stand-in vLLM HTTP server (a real server on a loopback port)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from omnipilot.collectors.emitter import parse_serve_argv
from omnipilot.collectors.nvml import load_nvml
from omnipilot.collectors.prom_text import bucket_quantile, parse_metrics
from omnipilot.collectors.store import HistoryStore

STANDIN = [sys.executable, "-m", "omnipilot.slurm.minicluster.standin_server"]
CLI = [sys.executable, "-m", "omnipilot.cli", "record"]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(path: Path) -> list[dict[str, object]]:
    rows, problems = HistoryStore(path).read()
    assert not problems
    return [r.model_dump(mode="json") for r in rows]


def test_serve_argv_forms() -> None:
    a = parse_serve_argv(
        [
            "vllm",
            "serve",
            "Qwen/Qwen2.5-7B-Instruct",
            "-tp",
            "2",
            "--port=9001",
            "-q",
            "fp8",
            "--max-model-len",
            "8192",
            "--host",
            "0.0.0.0",
        ]
    )
    assert (a.model, a.tp, a.port, a.quantization, a.max_model_len, a.host) == (
        "Qwen/Qwen2.5-7B-Instruct",
        2,
        9001,
        "fp8",
        8192,
        "127.0.0.1",
    )
    b = parse_serve_argv(
        ["python", "-m", "vllm.entrypoints.openai.api_server", "--model", "m", "--max-num-seqs", "32"]
    )
    assert (b.model, b.port, b.max_num_seqs) == ("m", 8000, 32)


def test_metrics_parsing_and_histogram_quantile() -> None:
    text = "\n".join([
        '# HELP x', 'vllm:gpu_cache_usage_perc{model_name="m"} 0.25', 'vllm:prompt_tokens_total{model_name="m"} 100',
        'vllm:generation_tokens_total{model_name="m"} 50', 'vllm:num_preemptions_total{model_name="m"} 2',
        'vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.1"} 5',
        'vllm:time_to_first_token_seconds_bucket{model_name="m",le="0.2"} 10',
        'vllm:time_to_first_token_seconds_bucket{model_name="m",le="+Inf"} 10',
    ])  # fmt: skip
    s = parse_metrics(text, 1.0)
    assert (s.kv_usage, s.prompt_tokens, s.generation_tokens, s.preemptions) == (0.25, 100, 50, 2)
    assert bucket_quantile({}, s.ttft_buckets, 0.5) == pytest.approx(0.1)
    assert bucket_quantile({}, s.ttft_buckets, 0.75) == pytest.approx(0.15)
    assert bucket_quantile(s.ttft_buckets, s.ttft_buckets, 0.5) is None  # nothing observed in between


def test_record_drives_load_and_appends_one_inference_run(tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    port = _port()
    t0 = time.time()
    res = subprocess.run(
        [
            *CLI,
            "--history",
            str(hist),
            "--gpu",
            "h100",
            "--drive-load",
            "24",
            "--concurrency",
            "4",
            "--prompt-len",
            "16",
            "--output-len",
            "8",
            "--scrape-interval",
            "0.1",
            "--",
            *STANDIN,
            "--port",
            str(port),
            "--model",
            "Qwen/Qwen2.5-7B-Instruct",
            "--startup-delay",
            "0.4",
            "--tensor-parallel-size",
            "2",
            "--max-model-len",
            "4096",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert res.returncode == 0, res.stderr
    (row,) = _rows(hist)
    t = row["targets"]
    assert isinstance(t, dict)
    assert row["kind"] == "inference_run" and row["gpu"] == "H100-80GB" and row["tp"] == 2
    assert row["model"] == "Qwen/Qwen2.5-7B" and row["load_regime"] == "burst" and row["context_len"] == 4096
    assert 0.4 <= t["cold_start_s"] < time.time() - t0
    assert t["tokens_per_s"] > 0 and t["requests_per_s"] > 0 and 0 < t["ttft_p50_s"] <= 0.04
    assert 0 < t["kv_cache_peak_frac"] <= 1
    assert str(row["serve_start"]) < str(row["serve_end"])  # ISO 8601, both UTC
    notes = " ".join(row["provenance"]["notes"])  # type: ignore[index]
    assert "STAND-IN" in notes and row["stack"]["engine_version"] == "standin"  # type: ignore[index]


def test_a_server_that_never_becomes_ready_is_a_failed_launch(tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    res = subprocess.run(
        [
            *CLI,
            "--history",
            str(hist),
            "--gpu",
            "a100",
            "--",
            *STANDIN,
            "--port",
            str(_port()),
            "--model",
            "Qwen/Qwen2.5-7B-Instruct",
            "--fail-after",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1  # the server's own exit code
    (row,) = _rows(hist)
    assert row["kind"] == "failed_launch" and "server exit code 1" in str(row["failure_reason"])
    assert row["gpu"] == "A100-40GB" and row["serve_start"] is None


def test_observe_mode_records_the_window_until_the_job_is_cancelled(tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    port = _port()
    proc = subprocess.Popen(
        [
            *CLI,
            "--history",
            str(hist),
            "--scrape-interval",
            "0.2",
            "--",
            *STANDIN,
            "--port",
            str(port),
            "--model",
            "m",
            "--startup-delay",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMNIPILOT_TOKEN": "tok9"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the stand-in never answered"
                time.sleep(0.1)
        body = json.dumps({"model": "m", "prompt": "a b c", "max_tokens": 5}).encode()
        for _ in range(3):  # a user's client, not the emitter, sends the load
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/completions",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(req, timeout=10).read()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)  # scancel
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143  # 128 + SIGTERM, as the shell reports it
    (row,) = _rows(hist)
    assert row["kind"] == "inference_run" and row["load_regime"] == "observed" and row["job_token"] == "tok9"
    assert row["targets"]["tokens_per_s"] and row["targets"]["requests_per_s"]  # type: ignore[index]
    if not load_nvml()[0]:
        assert row["gpu"] == "unknown"  # no --gpu and no NVML: said, not guessed


def test_record_without_a_command_says_how(tmp_path: Path) -> None:
    res = subprocess.run(
        [*CLI, "--history", str(tmp_path / "h.jsonl")], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 2 and "give the server command after --" in res.stderr


# GPM and energy through the real `omnipilot record` path, the NVML stand-in in place of a GPU
_H200 = {"name": "NVIDIA H200", "energy_mj": 1_000_000, "power_w": 682, "util_pct": 99,
         "gpm": {"sm_util": 95.0, "any_tensor_util": 93.0}}  # fmt: skip
_A100 = {"name": "NVIDIA A100-SXM4-40GB", "energy_mj": 2_000, "power_w": 250, "util_pct": 80, "gpm": None}


def _record_on(tmp_path: Path, *devices: dict[str, object]) -> dict[str, object]:
    gpus = tmp_path / "gpus.json"
    gpus.write_text(json.dumps({"devices": list(devices)}))
    hist = tmp_path / "history.jsonl"
    res = subprocess.run(
        [*CLI, "--history", str(hist), "--drive-load", "12", "--concurrency", "2", "--prompt-len", "16",
         "--output-len", "8", "--scrape-interval", "0.1", "--",
         *STANDIN, "--port", str(_port()), "--model", "Qwen/Qwen2.5-7B-Instruct", "--startup-delay", "0.2"],
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "OMNIPILOT_NVML_STANDIN": str(gpus)},
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    (row,) = _rows(hist)
    return row


def test_record_on_hopper_writes_gpm_activity_and_energy_power(tmp_path: Path) -> None:
    row = _record_on(tmp_path, _H200)
    t = row["targets"]
    assert isinstance(t, dict)
    assert row["gpu"] == "H200-141GB"  # from the NVML device name
    assert (t["sm_active_frac"], t["tensor_active_frac"]) == (0.95, 0.93)
    # the stand-in counts energy at 682 W on its own clock; each counter read is timed by the sampler
    # within the read's own duration, so the quotient is 682 W within a fraction of a percent
    assert t["power_avg_w"] == pytest.approx(682, rel=0.01)
    notes = row["provenance"]["notes"]  # type: ignore[index]
    assert "NVML STAND-IN ($OMNIPILOT_NVML_STANDIN), not a real GPU: not a measurement" in notes
    assert "power_avg_w: NVML energy counter over the serving window, sum over 1 GPU" in notes
    assert any(n.startswith("sm_active_frac, tensor_active_frac: NVML GPM") for n in notes)


def test_record_on_a100_leaves_gpm_activity_out_with_the_reason(tmp_path: Path) -> None:
    row = _record_on(tmp_path, _A100)
    t = row["targets"]
    assert isinstance(t, dict)
    assert row["gpu"] == "A100-40GB"
    assert t["sm_active_frac"] is None and t["tensor_active_frac"] is None
    assert t["power_avg_w"] == pytest.approx(250, abs=1)
    notes = " | ".join(row["provenance"]["notes"])  # type: ignore[index]
    assert "sm_active_frac, tensor_active_frac left out: GPM not supported on NVIDIA A100-SXM4-40GB" in notes


def test_record_survives_nvml_errors_and_notes_them(tmp_path: Path) -> None:
    row = _record_on(
        tmp_path, {**_H200, "raise": ["nvmlGpmMetricsGet", "nvmlDeviceGetTotalEnergyConsumption"]}
    )
    t = row["targets"]
    assert isinstance(t, dict)
    assert row["kind"] == "inference_run" and t["tokens_per_s"]
    assert t["sm_active_frac"] is None and t["power_avg_w"] == 682  # the power samples' mean
    notes = " | ".join(row["provenance"]["notes"])  # type: ignore[index]
    assert "left out: GPM errors: nvmlGpmMetricsGet: Unknown Error" in notes
    assert "mean of NVML power samples" in notes and "Unknown Error" in notes
