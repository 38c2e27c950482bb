#!/usr/bin/env bash
# Prepares .device-carry/ for a GPU machine that has Python with PyTorch but no Node and no
# network: node itself and onnxruntime-node's Linux files (xz-compressed), the bundled GPU check,
# the PyTorch peer, the GL/Vulkan loader packages Dawn needs, and run.sh. Run from the repo root.
set -euo pipefail
out=.device-carry
mkdir -p "$out/gl"
npx esbuild test/gpu/gpuCheck.ts --bundle --platform=node --target=node20 --format=cjs \
  --external:onnxruntime-node --outfile="$out/gpuCheck.js" --log-level=warning
cp test/gpu/torch_ref.py test/gpu/run.sh "$out/"
# node and onnxruntime-node change rarely and take minutes to compress: reuse them when present.
[ -s "$out/node.xz" ] || xz -T2 -6 -c "$(command -v node)" > "$out/node.xz"
[ -s "$out/ort.tar.xz" ] || tar -C node_modules -cJf "$out/ort.tar.xz" \
  onnxruntime-common/package.json onnxruntime-common/dist \
  onnxruntime-node/package.json onnxruntime-node/dist onnxruntime-node/bin/napi-v6/linux/x64
# Dawn needs the Vulkan and GL loaders, which that image lacks (see the device tool's README).
if [ ! -e .gl/libvulkan1.deb ] && ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
cp .gl/*.deb "$out/gl/"
du -sh "$out"
