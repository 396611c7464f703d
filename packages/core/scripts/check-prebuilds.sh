#!/usr/bin/env bash
# Check the prebuilt addons as CI must (issue 24): each is an ELF of its architecture, needs no
# shared library beyond glibc and the libstdc++/libgcc_s node itself links (no libbpf, libelf,
# zlib: they are embedded), exports the N-API entry point and nothing of libbpf, and needs no
# glibc newer than GLIBC_MAX. The arm64 one cannot run here, so this is all it gets.
set -euo pipefail
cd "$(dirname "$0")/.."
GLIBC_MAX=2.34
status=0
bad() { echo "check-prebuilds: $1: $2" >&2; status=1; }
for arch in x64 arm64; do
  case "$arch" in x64) machine='x86-64' tools= ;; arm64) machine='ARM aarch64' tools=aarch64-linux-gnu- ;; esac
  f="$(ls prebuilds/linux-$arch/*.node 2>/dev/null | head -n1 || true)"
  [ -n "$f" ] || { bad "linux-$arch" "no prebuilt addon in prebuilds/linux-$arch"; continue; }
  file -b "$f" | grep -q "ELF 64-bit LSB shared object, $machine" || bad "$f" "not a $machine shared object: $(file -b "$f")"
  needed="$(${tools}readelf -d "$f" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')"
  for lib in $needed; do
    case "$lib" in libc.so.6 | libm.so.6 | libstdc++.so.6 | libgcc_s.so.1 | ld-linux-*) ;; *) bad "$f" "needs the shared library $lib" ;; esac
  done
  syms="$(${tools}nm -D --defined-only "$f")"
  grep -q ' napi_register_module_v1$' <<<"$syms" || bad "$f" "does not export napi_register_module_v1"
  ! grep -Eq ' (bpf_object__open_file|elf_begin|inflate)$' <<<"$syms" || bad "$f" "exports libbpf/libelf/zlib symbols"
  newest="$(${tools}objdump -T "$f" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n1)"
  [ "$(printf '%s\n%s\n' "$newest" "$GLIBC_MAX" | sort -V | tail -n1)" = "$GLIBC_MAX" ] || bad "$f" "needs GLIBC_$newest (> $GLIBC_MAX)"
  echo "check-prebuilds: $f: $machine, needs: $needed(glibc >= $newest)" >&2
done
exit $status
