#!/usr/bin/env bash
# Installs the real-VS-Code test tools into .e2e-tools/node_modules: code-server (VS Code
# 1.100's server and web workbench) and playwright-core (drives Debian's chromium).
# Idempotent: when the pinned versions are already there it does nothing and returns fast.
# Needs Debian packages chromium, ripgrep, libkrb5-dev, build-essential, python3, pkg-config
# (.ci/run installs them; this script installs them too when run as root and one is missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

want_cs="$(node -p "require('./package.json').dependencies['code-server']")"
want_pw="$(node -p "require('./package.json').dependencies['playwright-core']")"
have() { node -p "try { require('./node_modules/$1/package.json').version } catch { '' }"; }

if [[ "$(have code-server)" == "$want_cs" && "$(have playwright-core)" == "$want_pw" \
      && -x node_modules/.bin/code-server && -f node_modules/code-server/lib/vscode/out/server-main.js ]]; then
  echo "e2e tools: code-server $want_cs and playwright-core $want_pw already installed"
  exit 0
fi

# System packages: only the missing ones, only when we can.
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v rg >/dev/null || need+=(ripgrep)
[[ -f /usr/include/gssapi/gssapi.h || -f /usr/include/gssapi.h ]] || need+=(libkrb5-dev)
command -v g++ >/dev/null && command -v make >/dev/null || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
command -v pkg-config >/dev/null || need+=(pkg-config)
if ((${#need[@]})); then
  if [[ "$(id -u)" == 0 ]]; then
    echo "e2e tools: apt-get install ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "e2e tools: missing Debian packages: ${need[*]} (install them as root)" >&2
    exit 1
  fi
fi

# @vscode/ripgrep's postinstall downloads a ripgrep binary unless its cache already holds the
# archive; seed the cache with Debian's rg so nothing is fetched.
tmp="$(node -p "require('os').tmpdir()")"
cache="$tmp/vscode-ripgrep-cache-1.15.11"
archive="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [[ ! -s "$archive" ]]; then
  mkdir -p "$cache"
  stage="$(mktemp -d)"
  cp "$(command -v rg)" "$stage/rg"
  tar -czf "$archive" -C "$stage" rg
  rm -rf "$stage"
fi

# Native modules (node-pty, kerberos, argon2) build against the local node headers.
nodedir="$(dirname "$(dirname "$(command -v node)")")"
[[ -d "$nodedir/include/node" ]] || { echo "e2e tools: no node headers under $nodedir/include/node" >&2; exit 1; }

export npm_config_unsafe_perm=true                        # postinstalls refuse to run as root otherwise
export npm_config_yes=true                                # node-pty's postinstall runs npx node-gyp
export npm_config_nodedir="$nodedir"                      # no header download
export npm_config_dangerously_allow_all_scripts=true      # newer npm skips dependency scripts by default
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

start=$SECONDS
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

# Check what the install scripts were supposed to produce, so a skipped script fails here
# rather than as an obscure error when a test starts code-server.
lib=node_modules/code-server/lib/vscode
for f in "$lib/node_modules/@vscode/ripgrep/bin/rg"; do
  [[ -x "$f" ]] || { echo "e2e tools: $f missing after install (did the postinstall run?)" >&2; exit 1; }
done
node_modules/.bin/code-server --version >/dev/null
echo "e2e tools: installed code-server $(have code-server), playwright-core $(have playwright-core) in $((SECONDS - start)) s"
