#!/usr/bin/env bash
# Training throughput and peak memory at the paper architecture on one CUDA device, in about
# fifteen minutes (each compiled set-up first compiles for two to four minutes), most wanted first, so that a run cut short still answers the open question
# (train_gan.py): the paper's fp32 batch 1 and 4 as the baseline, config/gpu_fast.yaml's float32
# set-up exactly as the workflow trains it (no cudnn_benchmark) with the operators that take its
# time, then compiled and uncompiled bf16 (at demo size bf16 training costs the Exp2Sim gain,
# see docs/speed.md).
#
#     benchmarks/gpu.sh [LOG_DIR=benchmark_logs]
#
# PYTHON (default python3) is the interpreter; each step has its own time limit. Whether a
# set-up costs quality is a separate run that needs a finished demo (results/demo), about two
# minutes on an H200 for these six retrainings at demo size:
#     python benchmarks/gan_speed_quality.py --device cuda --precisions fp32 bf16 \
#         --batch-sizes 16 --channels-last --compile --seeds 0 1 2 --jobs 6
set -uo pipefail
logs=${1:-benchmark_logs}
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
throughput gpu_fast.txt 420 --variants fp32+channels_last+compile --batch-sizes 16 --seconds 8 \
    --profile 25
throughput compile.txt 300 --variants bf16+channels_last+cudnn_benchmark+compile \
    --batch-sizes 16 --seconds 8
throughput bf16.txt 180 --variants bf16+channels_last+cudnn_benchmark \
    --batch-sizes 1 4 8 16 32 --budget 120
