#!/usr/bin/env bash
# The GPU measurements of benchmarks/, on one CUDA device, in about six minutes:
# training throughput and peak memory at the paper architecture (train_gan.py), and whether bf16
# training loses translation quality on a finished run's data (gan_precision_quality.py).
#
#     benchmarks/gpu.sh [RESULTS=results/demo] [LOG_DIR=benchmark_logs]
#
# RESULTS must hold a run's gan2d/final.pt and data/{patches,train,test}.h5 (make demo writes
# them). PYTHON (default python3) is the interpreter; each step has its own time limit.
set -uo pipefail
results=${1:-results/demo}
logs=${2:-benchmark_logs}
python=${PYTHON:-python3}
mkdir -p "$logs"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$logs/gpu.txt"
throughput() {  # LOG TIMEOUT ARGS...
    local log=$1 limit=$2
    shift 2
    timeout "$limit" "$python" benchmarks/train_gan.py --device cuda --no-cpu "$@" | tee "$logs/$log"
}
throughput fp32.txt 90 --variants fp32 --batch-sizes 1 4 --budget 40
throughput bf16.txt 180 --variants bf16+channels_last+cudnn_benchmark \
    --batch-sizes 1 4 8 16 32 --budget 120
timeout 240 "$python" benchmarks/gan_precision_quality.py --results "$results" --device cuda \
    | tee "$logs/quality.txt"
throughput compile.txt 200 --variants bf16+channels_last+cudnn_benchmark+compile \
    --batch-sizes 16 1 --budget 100
