#!/bin/bash
#SBATCH --gres=gpu:h100:2
#SBATCH --time=04:00:00

MODEL=google/gemma-2-27b-it
cat > $TMPDIR/run_server.sh <<EOF
#!/bin/bash
source /opt/venvs/vllm/bin/activate
vllm serve $MODEL --tensor-parallel-size 2 --max-model-len 8192
EOF
chmod +x $TMPDIR/run_server.sh
srun $TMPDIR/run_server.sh
