"""Round-trip time of the pure-Lua ZMTP client (slurm/omnipilot_zmtp.lua) against a pyzmq ROUTER
over ipc, with a new connection per request and with the cached connection, and the time of a
whole slurm_job_submit call (stand-in `slurm` table, tests/slurm/lua/hook_harness.lua) against the
same kind of server. The server is a stand-in echo daemon (no advisor work), so these numbers are
the transport's and the hook's own cost. Run: .venv/bin/python benchmarks/lua_zmtp_rtt.py [N]
The last line is one JSON object."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[1]

LUA_LOOP = r"""
local socket = require("socket")
local zmtp = dofile(arg[1] .. "/omnipilot_zmtp.lua")
local endpoint, n, fresh = arg[2], tonumber(arg[3]), arg[4] == "new"
local body = string.rep("x", 1500)
local out = {}
for i = 1, n + 20 do
  if fresh then zmtp.close() end
  local t0 = socket.gettime()
  local reply, err = zmtp.request(endpoint, body, 1000)
  local ms = (socket.gettime() - t0) * 1000
  assert(reply, err)
  if i > 20 then out[#out + 1] = string.format("%.4f", ms) end -- first 20: warm-up
end
io.write(table.concat(out, "\n"), "\n")
"""


def _serve(sock: zmq.Socket[bytes], stop: threading.Event) -> None:
    while not stop.is_set():
        if sock.poll(50):
            frames = sock.recv_multipart()
            try:
                req_id = json.loads(frames[-1])["id"]
            except (ValueError, KeyError, TypeError):
                req_id = None
            reply = {"v": 1, "id": req_id, "status": "ok", "action": "suggest", "comment": "c" * 90}
            sock.send_multipart([*frames[:-1], json.dumps(reply).encode()])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _client_times(endpoint: str, n: int, mode: str) -> list[float]:
    proc = subprocess.run(
        ["lua5.1", "-", str(REPO / "slurm"), endpoint, str(n), mode],
        input=LUA_LOOP,
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(x) for x in proc.stdout.split()]


def _hook_times(root: Path, endpoint: str, n: int) -> list[float]:
    for name in ("job_submit.lua", "omnipilot_zmtp.lua"):
        shutil.copy(REPO / "slurm" / name, root / name)
    (root / "omnipilot_settings.lua").write_text(f'return {{ socket = "{endpoint}", timeout_ms = 1000 }}\n')
    script = "#!/bin/bash\n#SBATCH --gpus-per-node=2\n" + "# setup line\n" * 100 + "vllm serve m --tp 2\n"
    job = {"job": {"script": script, "comment": "x", "partition": "a100"}, "part_list": ["a100", "h100"]}
    proc = subprocess.run(
        ["lua5.1", str(REPO / "tests/slurm/lua/hook_harness.lua"), str(root / "job_submit.lua")],
        input=json.dumps({"jobs": [job] * (n + 20)}),
        capture_output=True,
        text=True,
        check=True,
    )
    results = [json.loads(line) for line in proc.stdout.splitlines()[1:]]
    assert all(r["rc"] == 0 and "unavailable" not in r["job"]["comment"] for r in results)
    return [float(r["ms"]) for r in results[20:]]


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    root = Path(tempfile.mkdtemp(prefix="oprtt", dir="/tmp"))
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(f"ipc://{root}/d.sock")
    stop = threading.Event()
    server = threading.Thread(target=_serve, args=(sock, stop), daemon=True)
    server.start()
    try:
        endpoint = f"ipc://{root}/d.sock"
        runs = {
            "cached": _client_times(endpoint, n, "cached"),
            "new": _client_times(endpoint, n // 2, "new"),
            "hook": _hook_times(root, endpoint, n // 2),
        }
    finally:
        stop.set()
        server.join()
        sock.close(0)
        ctx.term()
        shutil.rmtree(root, ignore_errors=True)
    summary: dict[str, float | int] = {"n_cached": len(runs["cached"]), "n_new": len(runs["new"])}
    for name, times in runs.items():
        p50, p99 = statistics.median(times), _pct(times, 0.99)
        print(f"{name:>6}: p50 {p50:.3f} ms  p99 {p99:.3f} ms  (n={len(times)})")
        summary[f"{name}_p50_ms"] = round(p50, 4)
        summary[f"{name}_p99_ms"] = round(p99, 4)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
