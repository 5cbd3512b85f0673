#!/usr/bin/env bash
# Everything the project measures on one CUDA device, most wanted first, in about twelve minutes
# (the first five steps about seven), so that a run cut short still answers the first questions.
# Each step has its own time limit and writes its own log as it goes:
#
#     benchmarks/gpu.sh [LOG_DIR=benchmark_logs]
#
#  1. cuda_tests.txt    the tests marked gpu: spin waves and whole spectra on CUDA against
#                       numpy on the CPU, compiled bf16 and fp16 training
#  2. simulate.txt      the simulator on CUDA (benchmarks/simulate.py: spin waves, intensities,
#                       broadening and binning in torch on the device): seconds and pairs per
#                       second of a 240 x 400 pair, the demo's draws
#  3. gan_eager*.txt    training throughput at the paper architecture, uncompiled
#                       (benchmarks/train_gan.py): the paper preset (fp32, batch 1) beside
#                       batch 16 in fp32, fp16 (loss scaling) and bf16, channels_last
#  4. plan.txt          `exp2simgan plan` of the paper preset, GAN and DUQ rates measured on the
#                       card; its throughput record is written to LOG_DIR/paper-cuda.json
#  5. simulate_parallel.txt  240 x 400 pairs per second from 1, 4 and 8 processes sharing
#                       the card (benchmarks/simulate_parallel.py)
#  6. gan_compiled.txt  compiled, batch 16: config/gpu_fast.yaml's float32 set-up as the
#                       workflow trains it, then fp16 (each compiles for two to four minutes)
#
# PYTHON (default python3) is the interpreter. Whether a set-up costs quality is a separate
# run that needs a finished demo's results/demo (data/, gan2d/final.pt: about 35 MB), about
# five minutes on an H200 for six retrainings at demo size, compilation included:
#     python benchmarks/gan_speed_quality.py --device cuda --precisions fp32 fp16 \
#         --batch-sizes 16 --channels-last --compile --seeds 0 1 2 --jobs 6
set -uo pipefail
logs=${1:-benchmark_logs}
python=${PYTHON:-python3}
mkdir -p "$logs"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$logs/gpu.txt"
step() {  # LOG TIMEOUT COMMAND...
    local log=$1 limit=$2
    shift 2
    echo "== $* (limit ${limit} s)" | tee "$logs/$log"
    timeout "$limit" "$@" 2>&1 | tee -a "$logs/$log"
}
gan() {  # LOG TIMEOUT ARGS...
    local log=$1 limit=$2
    shift 2
    step "$log" "$limit" "$python" benchmarks/train_gan.py --device cuda --no-cpu "$@"
}
step cuda_tests.txt 180 "$python" -m pytest -q -m gpu -p no:cacheprovider \
    tests/test_lswt.py tests/test_spectra.py tests/test_gan_train.py
step simulate.txt 90 "$python" benchmarks/simulate.py --device cuda --repeats 2 --draws 10
gan gan_eager.txt 100 --variants fp32 --batch-sizes 1 --seconds 6
gan gan_eager_b16.txt 120 --variants fp32+channels_last fp16+channels_last bf16+channels_last \
    --batch-sizes 16 --seconds 6
step plan.txt 120 "$python" -m exp2simgan_core.cli plan config/config.yaml --device cuda \
    --record "$logs/paper-cuda.json"
step simulate_parallel.txt 90 "$python" benchmarks/simulate_parallel.py --device cuda \
    --processes 1 4 8 --pairs 4
gan gan_compiled.txt 300 --variants fp32+channels_last+compile fp16+channels_last+compile \
    --batch-sizes 16 --seconds 6
