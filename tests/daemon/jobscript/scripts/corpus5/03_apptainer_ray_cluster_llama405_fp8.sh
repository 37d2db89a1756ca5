#!/bin/bash -l
#SBATCH -A p201234
#SBATCH -q default
#SBATCH -p gpu
#SBATCH -t 2:00:00
#SBATCH -N 2
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-task=4
#SBATCH --cpus-per-task=128
#SBATCH --error=slurm-%j.err
#SBATCH --output=slurm-%j.out
# expect-launch: yes
# expect-model: meta-llama/Llama-3.1-405B-Instruct-FP8
# expect-tp: 4
# expect-multinode: yes

module load env/release/2025.1
module load Apptainer/1.4.1-GCCcore-13.3.0

export SIF_IMAGE="$PROJECT/containers/vllm-openai_v0.12.0.sif"
export APPTAINER_ARGS=" --nvccli -B $PROJECT/hf_cache:/root/.cache/huggingface --env HF_HOME=/root/.cache/huggingface --env HUGGING_FACE_HUB_TOKEN=$MYHFTOKEN"
export HF_MODEL="meta-llama/Llama-3.1-405B-Instruct-FP8"

nodes=$(scontrol show hostnames $SLURM_JOB_NODELIST)
nodes_array=( $nodes )
head_node=${nodes_array[0]}
head_node_ip=$(srun --nodes=1 --ntasks=1 -w "$head_node" hostname --ip-address)
export RAY_CMD_HEAD="ray start --block --head --port=6379"
export RAY_CMD_WORKER="ray start --block --address=${head_node_ip}:6379"

echo "On your laptop: ssh -p 8822 ${USER}@login.cluster.example -NL 8000:${head_node_ip}:8000"

srun -J "head ray node-step-%J" -N 1 --ntasks-per-node=1 -c $(( SLURM_CPUS_PER_TASK/2 )) -w ${head_node} \
    apptainer exec ${APPTAINER_ARGS} ${SIF_IMAGE} ${RAY_CMD_HEAD} &
sleep 10
srun -J "worker ray node-step-%J" -N $(( SLURM_NNODES-1 )) --ntasks-per-node=1 -c ${SLURM_CPUS_PER_TASK} -x ${head_node} \
    apptainer exec ${APPTAINER_ARGS} ${SIF_IMAGE} ${RAY_CMD_WORKER} &
sleep 30

apptainer exec ${APPTAINER_ARGS} ${SIF_IMAGE} vllm serve ${HF_MODEL} \
    --tensor-parallel-size 4 --pipeline-parallel-size 2 --max-model-len 16384
