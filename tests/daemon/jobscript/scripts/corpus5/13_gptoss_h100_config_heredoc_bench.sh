#!/usr/bin/env bash
#SBATCH --job-name=gptoss-h100-bench
#SBATCH --gres=gpu:h100:8
#SBATCH --exclusive
#SBATCH --time=03:00:00
# expect-launch: yes
# expect-model: openai/gpt-oss-120b
# expect-tp: 8

MODEL=openai/gpt-oss-120b
TP=8
CONC=64
PORT=8888

cat > config.yaml << EOF_CFG
compilation-config: '{"pass_config":{"enable_noop":true},"cudagraph_mode":"FULL_AND_PIECEWISE"}'
async-scheduling: true
no-enable-prefix-caching: true
max-num-batched-tokens: 8192
max-model-len: 10240
EOF_CFG

export VLLM_USE_FLASHINFER_MXFP4_MOE=1
vllm serve $MODEL --host 0.0.0.0 --port $PORT --config config.yaml \
  --gpu-memory-utilization 0.9 --tensor-parallel-size=$TP --max-num-seqs $CONC \
  --disable-log-requests > server.log 2>&1 &
SERVER_PID=$!

until curl -s localhost:$PORT/health > /dev/null; do sleep 5; done

vllm bench serve --model $MODEL --port $PORT --dataset-name random \
  --random-input-len 1024 --random-output-len 1024 --num-prompts $((CONC * 10)) \
  --max-concurrency $CONC --result-filename results_${TP}_${CONC}.json --save-result

kill $SERVER_PID
