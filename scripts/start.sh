#!/usr/bin/env bash
# The one command for a fresh Debian or Ubuntu machine with Node 20+ and nothing else:
#   1. system packages that code-server and the browser check need (installed when run as root or
#      with password-less sudo; otherwise the one apt-get command is printed and nothing else runs),
#   2. the npm dependencies, when node_modules is missing or older than package-lock.json,
#   3. the build,
#   4. VS Code in the browser (code-server) with Model Lens loaded and samples/ open
#      (scripts/start.ts; its flags pass through: --port N, --workspace DIR, --smoke).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if ((node_major < 20)); then
  echo "Model Lens needs Node 20 or newer (found: $(node --version 2>/dev/null || echo none))." >&2
  exit 1
fi

# chromium: the --smoke check and the UI tests; the rest: code-server's native modules.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
[[ -f /usr/include/gssapi/gssapi.h || -f /usr/include/gssapi.h ]] || need+=(libkrb5-dev)
{ command -v g++ >/dev/null && command -v make >/dev/null; } || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v xz >/dev/null || need+=(xz-utils)
if ((${#need[@]})); then
  if [[ "$(id -u)" == 0 ]]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  if [[ "$sudo" == none ]]; then
    echo "Missing system packages. Install them with this command, then run this script again:" >&2
    echo "  sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "--- installing system packages: ${need[*]}"
  # Another apt may hold its locks (a fresh machine's unattended upgrades): wait rather than fail.
  for attempt in $(seq 1 60); do
    if out="$($sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq 2>&1)"; then break; fi
    if [[ "$out" != *"Could not get lock"* || "$attempt" == 60 ]]; then echo "$out" >&2; exit 1; fi
    sleep 10
  done
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm ci when the lock file changed since the last install (or there was none).
stamp=node_modules/.model-lens-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "--- npm ci"
  # package.json's allowScripts already denies onnxruntime-node's CUDA download; the variable
  # does the same for npm versions that ignore allowScripts.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

echo "--- build"
npm run --silent build
exec node --import tsx scripts/start.ts "$@"
