#!/usr/bin/env bash
# Paper-scale runs on one lent GPU, in one go per data set (the device tool carries at most 64 MiB, so
# CIFAR-10 and MNIST travel in two calls). Run from the repository root on the GPU machine:
#
#   bash benchmarks/gpu_paper_scale.sh cifar SECONDS   # throughput table, then E-table1 (all five α, 160 epochs)
#   bash benchmarks/gpu_paper_scale.sh mnist SECONDS   # C-table1 (three models, full MNIST, 35 epochs, FGSM)
#
# SECONDS is the wall-clock this call may use; each stage gets what is left (minus a margin to pack the
# results), so a stage that cannot finish is stopped and its finished epochs are still reported.
# Data: .gpu/cifar10-jpeg.npz (built into CIFAR-10's python layout here) or .gpu/MNIST/raw/*.gz; both
# folders are ignored by git (.git/info/exclude) and named in the call's `carry`. Results go to $OUT.
set -u
part=$1
deadline=$(( $(date +%s) + $2 - 45 ))
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/w
left() { echo $(( deadline - $(date +%s) )); }
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; python3 -c \
  "import torch,sys;print('torch',torch.__version__,'cuda',torch.version.cuda,'python',sys.version.split()[0])"; \
  nproc; git rev-parse HEAD 2>/dev/null || cat .gpu/COMMIT 2>/dev/null; } > "$OUT/machine.txt" 2>&1

pack() {  # reports and run records (no checkpoints) in one archive: at most 8 files come back
  tar czf "$OUT/$part-results.tgz" -C /tmp/w --exclude='*.safetensors' --exclude='train_state.pt' \
    --exclude='submitit' . 2>/dev/null
}

if [ "$part" = cifar ]; then
  ( python3 .gpu/cifar10_from_jpeg.py /tmp/data .gpu/cifar10-jpeg.npz > "$OUT/cifar-build.log" 2>&1 ) &
  builder=$!
  timeout $(( $(left) < 150 ? $(left) : 150 )) python3 -m benchmarks.throughput --device cuda \
    --out /tmp/w/throughput --budget 110 --source h200-2026-12 > "$OUT/throughput.log" 2>&1
  cp /tmp/w/throughput/throughput.json "$OUT/" 2>/dev/null
  wait $builder
  # Stack E-table1's five α when the measured stack beats one fast run by 20 % (else one by one).
  stack=$(python3 - <<'EOF'
import json
try:
    rows = json.load(open("/tmp/w/throughput/throughput.json"))["rows"]
    fast = [r["train_images_per_s"] for r in rows if r["model"] == "resnet-32" and r["path"] == "fast"]
    packed = [r["train_images_per_s"] for r in rows if r["model"] == "resnet-32" and r["path"] == "packed"]
    print(5 if packed and fast and packed[0] > 1.2 * fast[0] else 1)
except Exception:
    print(5)
EOF
)
  echo "stack=$stack" >> "$OUT/machine.txt"
  timeout $(left) python3 -m stablenets reproduce E-table1 --scale paper --data-root /tmp/data --no-verify \
    --seeds 0 --launcher inline --stack "$stack" --out /tmp/w/paper > "$OUT/E-table1.log" 2>&1
  echo "exit $?" >> "$OUT/E-table1.log"
else
  timeout $(left) python3 -m stablenets reproduce C-table1 --scale paper --data-root .gpu \
    --launcher inline --out /tmp/w/paper > "$OUT/C-table1.log" 2>&1
  echo "exit $?" >> "$OUT/C-table1.log"
fi
pack
ls -la "$OUT"
