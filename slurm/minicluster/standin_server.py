"""A STAND-IN for a vLLM OpenAI-compatible server, for tests and the demo (no GPU there).

It is not vLLM and never claims to be: `/v1/models` lists the model as owned by
"omnipilot-standin", `/version` answers "standin", and `/metrics` begins with a STAND-IN comment.
It speaks the endpoints the emitter reads — `/health`, `/v1/models`, `/v1/completions` and a
Prometheus `/metrics` with vLLM's metric names (`vllm:kv_cache_usage_perc`,
`vllm:time_to_first_token_seconds`, `vllm:inter_token_latency_seconds`,
`vllm:num_preemptions_total`, `vllm:num_requests_running`, `vllm:num_requests_waiting`,
`vllm:prompt_tokens_total`, `vllm:generation_tokens_total`, `vllm:request_success_total`) — with
made-up but self-consistent numbers: each completion sleeps a TTFT plus a per-token time.

    python -m omnipilot.slurm.minicluster.standin_server --port 8000 --model Qwen/Qwen2.5-7B-Instruct
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STANDIN_OWNER = "omnipilot-standin"
_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * len(_BUCKETS)
        self.total = 0
        self.sum = 0.0

    def observe(self, v: float) -> None:
        self.total += 1
        self.sum += v
        for i, b in enumerate(_BUCKETS):
            if v <= b:
                self.counts[i] += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out = [f"# TYPE {name} histogram"]
        out += [f'{name}_bucket{{{labels},le="{b}"}} {c}' for b, c in zip(_BUCKETS, self.counts, strict=True)]
        out += [
            f'{name}_bucket{{{labels},le="+Inf"}} {self.total}',
            f"{name}_count{{{labels}}} {self.total}",
            f"{name}_sum{{{labels}}} {self.sum}",
        ]
        return out


class StandinState:
    def __init__(self, model: str, ttft_s: float, token_s: float, kv_per_request: float) -> None:
        self.model, self.ttft_s, self.token_s, self.kv_per_request = model, ttft_s, token_s, kv_per_request
        self.lock = threading.Lock()
        self.running = 0
        self.prompt_tokens = self.generation_tokens = self.successes = 0
        self.kv_peak = 0.0
        self.ttft = Histogram()
        self.itl = Histogram()

    def metrics(self) -> str:
        lab = f'model_name="{self.model}"'
        with self.lock:
            lines = [
                "# STAND-IN for vLLM (omnipilot.slurm.minicluster.standin_server): made-up numbers, not a measurement",
                "# TYPE vllm:num_requests_running gauge",
                f"vllm:num_requests_running{{{lab}}} {self.running}",
                "# TYPE vllm:num_requests_waiting gauge",
                f"vllm:num_requests_waiting{{{lab}}} 0",
                "# TYPE vllm:kv_cache_usage_perc gauge",
                f"vllm:kv_cache_usage_perc{{{lab}}} {min(self.running * self.kv_per_request, 1.0)}",
                "# TYPE vllm:num_preemptions_total counter",
                f"vllm:num_preemptions_total{{{lab}}} 0",
                "# TYPE vllm:prompt_tokens_total counter",
                f"vllm:prompt_tokens_total{{{lab}}} {self.prompt_tokens}",
                "# TYPE vllm:generation_tokens_total counter",
                f"vllm:generation_tokens_total{{{lab}}} {self.generation_tokens}",
                "# TYPE vllm:request_success_total counter",
                f'vllm:request_success_total{{{lab},finished_reason="length"}} {self.successes}',
                *self.ttft.lines("vllm:time_to_first_token_seconds", lab),
                *self.itl.lines("vllm:inter_token_latency_seconds", lab),
            ]
        return "\n".join(lines) + "\n"

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt") or ""
        prompt_tokens = max(len(str(prompt).split()), 1)
        max_tokens = int(body.get("max_tokens") or 16)
        with self.lock:
            self.running += 1
        try:
            time.sleep(self.ttft_s)
            with self.lock:
                self.ttft.observe(self.ttft_s)
            time.sleep(self.token_s * max(max_tokens - 1, 0))
        finally:
            with self.lock:
                self.running -= 1
                self.prompt_tokens += prompt_tokens
                self.generation_tokens += max_tokens
                self.successes += 1
                for _ in range(max(max_tokens - 1, 0)):
                    self.itl.observe(self.token_s)
        return {
            "id": f"cmpl-standin-{time.monotonic_ns()}",
            "object": "text_completion",
            "model": self.model,
            "choices": [{"index": 0, "text": " stand-in" * max_tokens, "finish_reason": "length"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": max_tokens,
                "total_tokens": prompt_tokens + max_tokens,
            },
        }


def make_handler(state: StandinState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read stdout
            return

        def _send(self, code: int, body: str, ctype: str = "application/json") -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, "")
            elif self.path == "/version":
                self._send(200, json.dumps({"version": "standin"}))
            elif self.path == "/v1/models":
                self._send(
                    200,
                    json.dumps(
                        {
                            "object": "list",
                            "data": [{"id": state.model, "object": "model", "owned_by": STANDIN_OWNER}],
                        }
                    ),
                )
            elif self.path == "/metrics":
                self._send(200, state.metrics(), "text/plain; version=0.0.4")
            else:
                self._send(404, json.dumps({"error": f"stand-in has no {self.path}"}))

        def do_POST(self) -> None:
            if self.path != "/v1/completions":
                self._send(404, json.dumps({"error": f"stand-in has no {self.path}"}))
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, json.dumps({"error": "body is not JSON"}))
                return
            self._send(200, json.dumps(state.complete(body)))

    return Handler


def serve(
    port: int,
    model: str,
    *,
    host: str = "127.0.0.1",
    startup_delay_s: float = 0.0,
    ttft_s: float = 0.02,
    token_s: float = 0.002,
    kv_per_request: float = 0.05,
) -> ThreadingHTTPServer:
    """Bind and return the server (call `serve_forever()`); the startup delay mimics model loading."""
    time.sleep(startup_delay_s)
    server = ThreadingHTTPServer(
        (host, port), make_handler(StandinState(model, ttft_s, token_s, kv_per_request))
    )
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="standin_server", description="STAND-IN for a vLLM server (tests and demo)"
    )
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--model", default="standin-model")
    p.add_argument("--startup-delay", type=float, default=0.5, help="seconds before the port opens")
    p.add_argument(
        "--fail-after", type=float, default=None, help="exit 1 after this many seconds (a failed launch)"
    )
    args, _unknown = p.parse_known_args(argv)  # vLLM flags it does not know are ignored
    if args.fail_after is not None:
        time.sleep(args.fail_after)
        print("stand-in vllm: simulated launch failure", file=sys.stderr)
        return 1
    server = serve(args.port, args.model, host=args.host, startup_delay_s=args.startup_delay)
    print(f"stand-in vllm (not a real server) serving {args.model} on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
