#!/usr/bin/env bash
# One-time, cached setup for the headless VS Code e2e harness (see test/e2e/harness.ts):
#   - Debian packages: chromium (the browser playwright-core drives), libkrb5-dev (kerberos, a
#     code-server dependency, builds from source), ripgrep (seeds @vscode/ripgrep's download cache).
#   - code-server (a real VS Code workbench whose extension host is plain Node 20) into a cache dir.
# Safe to re-run: apt is only touched when a package is missing, and code-server is skipped when
# the cache holds a marker for this version, Node ABI and arch. Works as root, with no stdin (CI=true).
#
# Env: PEFT_STUDIO_E2E_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/peft-studio/e2e, shared by every clone on the machine), CODE_SERVER_VERSION (default 4.99.4).
set -euo pipefail

CS_VERSION="${CODE_SERVER_VERSION:-4.99.4}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PEFT_STUDIO_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peft-studio/e2e}"
PREFIX="$CACHE/code-server-$CS_VERSION"
MARKER="$PREFIX/.e2e-installed"
# Native addons are built for this Node ABI and arch, so a restored CI cache only counts if they match.
STAMP="code-server $CS_VERSION node-abi $(node -p process.versions.modules) $(uname -m)"
TMP="${TMPDIR:-/tmp}"   # @vscode/ripgrep looks for its cache under os.tmpdir(), which honours TMPDIR

now() { date +%s.%N; }
T0=$(now)
step() { awk -v a="$2" -v b="$(now)" -v m="$1" 'BEGIN { printf "[e2e-setup] %-40s %6.1f s\n", m, b - a }'; }

# --- 1. apt packages, only when missing (a CI cache may restore .cache/e2e but never /usr) ---
t=$(now)
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v rg >/dev/null || missing+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || missing+=(libkrb5-dev)
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"   # -n: fail instead of prompting
  echo "[e2e-setup] apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q "${missing[@]}" </dev/null
fi
step "apt (${missing[*]:-nothing missing})" "$t"

# --- 2. code-server, cached per version ---
t=$(now)
if [ "$(cat "$MARKER" 2>/dev/null)" = "$STAMP" ]; then
  step "code-server $CS_VERSION (cached)" "$t"
  echo "[e2e-setup] ready: $PREFIX/node_modules/.bin/code-server"
  exit 0
fi

# Start from a clean prefix: a half-finished earlier attempt must not be mistaken for a good one.
rm -rf "$PREFIX"
mkdir -p "$PREFIX"
# Own package.json so npm treats $PREFIX as the project root (and never walks up into the repo).
echo '{ "private": true, "description": "peft-studio e2e cache" }' >"$PREFIX/package.json"
cd "$PREFIX"

# Why each: code-server's postinstall refuses root without unsafe_perm; node-pty's postinstall runs
# `npx node-gyp`, which would prompt (and, with no stdin, abort the whole install) without yes=true
# (~/.npmrc may even say yes=false; env beats npmrc); node-gyp needs nodedir=/usr for Node headers
# because it cannot download them here.
export npm_config_unsafe_perm=true npm_config_yes=true npm_config_nodedir=/usr
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# Phase 1: fetch the package tree without running scripts, so we can read which @vscode/ripgrep
# VS Code pins before its postinstall tries to download rg from GitHub (unreachable here).
t=$(now)
npm install "code-server@$CS_VERSION" --ignore-scripts --no-save </dev/null
step "npm install (no scripts)" "$t"

t=$(now)
VSCODE_DIR="$PREFIX/node_modules/code-server/lib/vscode"
RG_PKG=$(node -p "require('$VSCODE_DIR/npm-shrinkwrap.json').packages['node_modules/@vscode/ripgrep'].version")
# The rg release tag is a constant inside the package's postinstall.js, so fetch that (tiny) tarball.
PACK_DIR=$(mktemp -d "$TMP/rgpack.XXXXXX")
(cd "$PACK_DIR" && npm pack "@vscode/ripgrep@$RG_PKG" --silent </dev/null >/dev/null && tar xzf ./*.tgz)
RG_VER=$(sed -n "s/^const VERSION = '\(.*\)';/\1/p" "$PACK_DIR/package/lib/postinstall.js")
rm -rf "$PACK_DIR"
case "$(uname -m)" in
  x86_64) RG_TARGET=x86_64-unknown-linux-musl ;;
  aarch64) RG_TARGET=aarch64-unknown-linux-musl ;;
  *) echo "[e2e-setup] unsupported arch $(uname -m)" >&2; exit 1 ;;
esac
[ -n "$RG_VER" ] || { echo "[e2e-setup] could not read rg version from @vscode/ripgrep@$RG_PKG" >&2; exit 1; }
# Seed the download cache with Debian's rg: the postinstall then "uses the cached download".
RG_CACHE="$TMP/vscode-ripgrep-cache-$RG_PKG"
RG_STAGE=$(mktemp -d "$TMP/rgdir.XXXXXX")
mkdir -p "$RG_CACHE" && cp "$(command -v rg)" "$RG_STAGE/rg"
tar czf "$RG_CACHE/ripgrep-$RG_VER-$RG_TARGET.tar.gz" -C "$RG_STAGE" rg
rm -rf "$RG_STAGE"
step "ripgrep cache ($RG_PKG, $RG_VER)" "$t"

# Phase 2: run the install scripts now (code-server's postinstall installs VS Code's own deps,
# building kerberos/argon2/node-pty from source).
t=$(now)
npm rebuild --foreground-scripts </dev/null
rm -rf "$RG_CACHE"
step "npm rebuild (install scripts)" "$t"

t=$(now)
"$PREFIX/node_modules/.bin/code-server" --version
echo "$STAMP" >"$MARKER"
step "smoke test" "$t"
step "total" "$T0"
echo "[e2e-setup] ready: $PREFIX/node_modules/.bin/code-server"
