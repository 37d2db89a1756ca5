#!/bin/bash
#SBATCH --job-name=Llama-3.3-70B-Instruct
#SBATCH --partition=a100
#SBATCH --qos=m2
#SBATCH --nodes=1
#SBATCH --gpus-per-node=4
#SBATCH --cpus-per-task=16
#SBATCH --mem=160G
#SBATCH --time=08:00:00
#SBATCH --output=%x.%j.out
# expect-launch: yes
# expect-model: /model-weights/Llama-3.3-70B-Instruct
# expect-tp: 4

MODEL_NAME="Llama-3.3-70B-Instruct"
MODEL_FAMILY="llama3"
WEIGHTS_ROOT="/model-weights"
MODEL_WEIGHTS="${WEIGHTS_ROOT}/${MODEL_NAME}"
NUM_GPUS=${SLURM_GPUS_PER_NODE}
IMAGE=/model-weights/images/vector-inference_0.11.sif

find_available_port() {
    local base=$1
    local top=$2
    for p in $(seq $base $top); do
        if ! nc -z localhost $p 2>/dev/null; then echo $p; return; fi
    done
}
server_port=$(find_available_port 8080 8200)
echo "Server address: http://$(hostname):${server_port}/v1"
echo "${MODEL_FAMILY} ${MODEL_NAME} on ${NUM_GPUS} GPUs" > ${SLURM_JOB_ID}.info

module load singularity-ce/4.2
singularity exec --nv --bind ${WEIGHTS_ROOT}:${WEIGHTS_ROOT} ${IMAGE} \
    python3 -m vllm.entrypoints.openai.api_server \
    --model ${MODEL_WEIGHTS} \
    --served-model-name ${MODEL_NAME} \
    --host "0.0.0.0" \
    --port ${server_port} \
    --tensor-parallel-size ${NUM_GPUS} \
    --dtype auto \
    --max-num-seqs 256 \
    --max-model-len 65536
