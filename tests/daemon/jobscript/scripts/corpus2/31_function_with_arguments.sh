#!/bin/bash
#SBATCH --job-name=phi4-fn
#SBATCH --gres=gpu:1
#SBATCH --time=03:00:00
# expect-launch: yes
# expect-model: microsoft/phi-4
# expect-tp: 1

launch_server() {
    local model=$1
    local tp=$2
    vllm serve "$model" --tensor-parallel-size "$tp" --port 8000 > server.log 2>&1 &
    echo $! > server.pid
}

wait_ready() {
    until curl -sf http://localhost:8000/v1/models > /dev/null; do sleep 10; done
}

launch_server microsoft/phi-4 1
wait_ready
python run_bench_client.py --url http://localhost:8000/v1
