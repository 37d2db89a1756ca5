#!/bin/sh
# properties = {"type": "single", "rule": "llm_annotate", "local": false, "input": ["data/chunks/07.jsonl"], "output": ["results/07.jsonl"], "wildcards": {"chunk": "07"}, "params": {}, "log": ["logs/annotate_07.log"], "threads": 8, "resources": {"mem_mb": 64000, "gpu": 1, "runtime": 240}, "jobid": 12, "cluster": {}}
#SBATCH --gres=gpu:1
#SBATCH --mem=64000
#SBATCH --time=240
# expect-launch: no
cd /home/user/projects/annotate && python3 -m snakemake --snakefile /home/user/projects/annotate/Snakefile --target-jobs 'llm_annotate:chunk=07' --allowed-rules 'llm_annotate' --cores 8 --attempt 1 --force-use-threads --wait-for-files /home/user/projects/annotate/.snakemake/tmp.x1 'data/chunks/07.jsonl' --force --keep-target-files --keep-remote --max-inventory-time 0 --nocolor --notemp --no-hooks --nolock --mode 2
