#!/usr/bin/env bash
# The one device call on a lent GPU machine: build with the CUDA backend, run the CUDA tests, run the GPU
# benchmark, print a short table last. From the repository root, carrying .device_wheels/ (the wheels the
# machine lacks: scipy-openblas32, pytest; fetch them here with bench/gpu_wheels.sh):
#   bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ -d .device_wheels ]; then
  $PY -m pip install -q --no-index --find-links .device_wheels scipy-openblas32 pytest 2>&1 | tail -3
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
echo "== build (PYFAST_TAPE_CUDA=ON)"
t0=$(date +%s)
if ! PYFAST_TAPE_CUDA=ON $PY -m pip install -q --no-build-isolation --no-deps -Cbuild-dir=build/gpu . 2>&1 | tail -20; then
  echo "BUILD FAILED"; exit 1
fi
echo "built in $(( $(date +%s) - t0 )) s"
$PY -c "import pyfast_tape as tf; print(tf.config.list_physical_devices('GPU'))" || exit 1
echo "== tests/test_cuda.py (new GPU buffers poisoned with NaN bytes)"
(cd tests && PYFAST_TAPE_POISON_GPU=1 timeout 300 $PY -m pytest test_cuda.py -q -p no:cacheprovider --tb=line -rf 2>&1 \
   | tail -40) | tee "${OUT:-/tmp}/test_cuda.txt"
echo "== bench/gpu_bench.py"
timeout 240 $PY bench/gpu_bench.py 2>&1 | tee "${OUT:-/tmp}/gpu_bench.txt" | tail -15
