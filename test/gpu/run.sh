#!/usr/bin/env bash
# Runs on the GPU machine from .device-carry/ (made by test/gpu/pack.sh): unpacks the loaders,
# node and onnxruntime-node, runs the per-hook parity and timing check, then the PyTorch CUDA
# peer, and prints both tables. Results land in $OUT (or ./gpu-out).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$here/gpu-out}
mkdir -p "$out"
for f in "$here"/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export __EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json}
work=/tmp/model-lens-gpu
mkdir -p "$work/node_modules" "$work/bin"
xz -dc "$here/node.xz" > "$work/bin/node" && chmod +x "$work/bin/node"
tar -C "$work/node_modules" -xJf "$here/ort.tar.xz"
cp "$here/gpuCheck.js" "$work/"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
(cd "$work" && ./bin/node gpuCheck.js --work "$work/data" --out "$out/gpu.json" "$@") 2>&1 | grep -v 'artificially reduced' | tee "$out/gpu.log"
PYTHONUNBUFFERED=1 python3 "$here/torch_ref.py" --work "$work/data" --out "$out/torch.json" --ours "$out/gpu.json" 2>&1 | tee "$out/torch.log"
