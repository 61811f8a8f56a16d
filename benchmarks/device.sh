#!/usr/bin/env bash
# One call on a lent GPU machine: CIFAR-10 conversion (in the background), then every benchmark.
#   bash benchmarks/device.sh OUT_DIR [extra args for benchmarks.gpu]
# Expects, in git-ignored folders carried with the call: .data/cifar/{cifar10-jpeg.zip,cifar10_from_jpeg.py,py2pickle.py}
# (copied from the shared data folder) and .data/whl/torchattacks-3.5.1-py3-none-any.whl.
set -uo pipefail
out=${1:?usage: benchmarks/device.sh OUT_DIR}
shift
mkdir -p "$out"
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
data=/tmp/stablenets-data
python3 .data/cifar/cifar10_from_jpeg.py "$data" >"$out/convert.log" 2>&1 &
conv=$!
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .data/whl/*.whl
export PYTHONPATH="$PWD/src:$PWD:/tmp/site" PYTHONUNBUFFERED=1
python3 -c "import torch, torchattacks; print('torch', torch.__version__, 'torchattacks', torchattacks.__version__)"
wait $conv || echo "CIFAR-10 conversion failed: see convert.log"
timeout "${GPU_LIMIT:-280}" python3 -m benchmarks.gpu --data "$data" --out "$out" "$@" 2>&1 | tee "$out/gpu.log"
timeout "${BENCH_LIMIT:-230}" python3 -m benchmarks --device cuda --out "$out" 2>&1 | tee "$out/bench.log"
