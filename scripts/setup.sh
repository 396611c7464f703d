#!/usr/bin/env bash
# Prepare a Debian/Ubuntu machine (as root) to build and run boxwatch: toolchain and runtime
# packages, dockerd, node modules, the build, and the locally built busybox test image.
# Idempotent: steps that are already done are quick.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "boxwatch needs root (BPF programs, docker): run as root" >&2
  exit 1
fi

# clang/llvm + libbpf-dev (bpf_helpers.h): compile the CO-RE BPF programs; cargo + autotools,
# flex, bison, gettext, gawk, pkg-config: fetch and build the static -fPIC libbpf/libelf/zlib the
# addon embeds (packages/core/scripts/build-libbpf.sh); gcc/g++-aarch64-linux-gnu: the arm64
# prebuild; bpftool: layout generation; docker.io + busybox-static: the test containers; maven + a JRE: the local Kafka;
# gcc + libc6-dev: the evaluation's static helper tools; bpftrace: the benchmark's comparison;
# qemu-system-x86 + debootstrap + kmod + cpio + xz-utils: the kernel matrix (scripts/vm/);
# chromium: the web console's browser tests (playwright-core drives it; no browser download).
PACKAGES=(clang llvm libbpf-dev cargo autoconf automake autopoint libtool flex bison gettext gawk pkg-config gcc-aarch64-linux-gnu g++-aarch64-linux-gnu bpftool docker.io busybox-static iproute2 make gcc g++ libc6-dev python3 maven default-jre-headless bpftrace qemu-system-x86 debootstrap kmod cpio xz-utils chromium)
missing=()
for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
# A JDK/JRE may come from elsewhere (e.g. a preinstalled Temurin): do not insist on Debian's.
if command -v java >/dev/null 2>&1; then missing=("${missing[@]/default-jre-headless}"); fi
if command -v mvn >/dev/null 2>&1; then missing=("${missing[@]/maven}"); fi
# cargo only fetches a crate: a rustup install does as well as Debian's.
if command -v cargo >/dev/null 2>&1; then missing=("${missing[@]/cargo}"); fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v node >/dev/null 2>&1; then
  echo "Node.js >= 20 is required (apt-get install nodejs, or nodesource)" >&2
  exit 1
fi

log "docker daemon"
bash scripts/dockerd.sh

log "node modules"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

log "build"
npm run build

log "test image"
bash scripts/test-image.sh
