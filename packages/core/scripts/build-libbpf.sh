#!/usr/bin/env bash
# Build the static, position-independent libbpf + libelf + zlib that the native addon links, so the
# `.node` depends on nothing but glibc (issue 24). Debian's own libbpf.a/libelf.a are not PIC, so
# they cannot go into a shared object: we build them from source, the way the libbpf-sys crate's
# build.rs does (zlib `configure --static`, elfutils' libelf via autoreconf + configure, libbpf
# `make BUILD_STATIC_ONLY=y`), all with -fPIC.
#
# Sources: the libbpf-sys crate from crates.io (it vendors libbpf, elfutils and zlib), pinned by
# version and sha256 below; cargo fetches it (crates.io is a registry every CI machine reaches).
#
# Usage: build-libbpf.sh <x64|arm64>
#   Builds once into packages/core/.cache/libbpf/<crate version>-<arch>/ (gitignored) and prints
#   that directory on stdout (binding.gyp reads it); every log line goes to stderr.
#   Env: BOXWATCH_LIBBPF_CACHE overrides the cache root.
set -euo pipefail

CRATE=libbpf-sys
CRATE_VERSION=1.5.0+v1.5.0
CRATE_SHA256=2d8306b516a70a129cb6afed17c1e51e162d35aadfcc6339364addcebe32de90

arch="${1:-}"
case "$arch" in
  x64 | x86_64) arch=x64 host=x86_64-linux-gnu cross= ;;
  arm64 | aarch64) arch=arm64 host=aarch64-linux-gnu cross=aarch64-linux-gnu- ;;
  *) echo "build-libbpf.sh: unsupported target arch '${arch}' (expected x64 or arm64)" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${BOXWATCH_LIBBPF_CACHE:-$here/.cache/libbpf}"
out="$cache/$CRATE_VERSION-$arch"
log() { printf 'build-libbpf: %s\n' "$*" >&2; }

if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "build-libbpf.sh: '$1' is required to build the static libbpf ($2)" >&2
    exit 1
  }
}
need cargo "fetches the pinned $CRATE crate from crates.io; install rustup or Debian's cargo"
need "${cross}gcc" "the C compiler for $host; Debian: apt-get install gcc${cross:+-aarch64-linux-gnu}"
for t in make autoreconf autopoint flex bison gawk pkg-config sha256sum; do
  need "$t" "building elfutils' libelf; Debian: apt-get install autoconf automake autopoint libtool flex bison gettext gawk pkg-config"
done

mkdir -p "$cache"
# Two builds (x64 and arm64, or two npm installs) may run at once: one at a time per cache.
exec 9>"$cache/.lock"
flock 9
if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi

# 1. Fetch the crate with cargo (a throwaway project pinning the exact version) and verify it.
crate="$cache/$CRATE-$CRATE_VERSION.crate"
if [ ! -f "$crate" ]; then
  proj="$cache/fetch"
  mkdir -p "$proj/src"
  cat >"$proj/Cargo.toml" <<EOF
[package]
name = "boxwatch-libbpf-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
$CRATE = { version = "=${CRATE_VERSION}", default-features = false }
EOF
  : >"$proj/src/lib.rs"
  log "fetching $CRATE $CRATE_VERSION from crates.io (cargo fetch)"
  (cd "$proj" && cargo fetch --quiet) >&2
  found="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$CRATE-$CRATE_VERSION.crate" 2>/dev/null | head -n1 || true)"
  [ -n "$found" ] || { echo "build-libbpf.sh: cargo fetch did not leave $CRATE-$CRATE_VERSION.crate in the cargo registry cache" >&2; exit 1; }
  cp "$found" "$crate.tmp"
  mv "$crate.tmp" "$crate"
fi
actual="$(sha256sum "$crate" | cut -d' ' -f1)"
if [ "$actual" != "$CRATE_SHA256" ]; then
  rm -f "$crate"
  echo "build-libbpf.sh: checksum mismatch for $CRATE-$CRATE_VERSION.crate: expected $CRATE_SHA256, got $actual" >&2
  exit 1
fi

# 2. A private source tree per arch: the autotools builds are in-tree.
src="$cache/src-$arch"
rm -rf "$src" "$out"
mkdir -p "$src" "$out/lib" "$out/include"
tar -xzf "$crate" -C "$src" --strip-components=1
jobs="$(nproc)"
# -fPIC: the archives end up inside a shared object (the .node). No -g: prebuildify strips anyway.
cflags="-O2 -fPIC -fno-omit-frame-pointer"
export CC="${cross}gcc" AR="${cross}ar" RANLIB="${cross}ranlib"
start=$SECONDS

log "zlib ($arch)"
(cd "$src/zlib" && CFLAGS="$cflags" CHOST="$host" ./configure --static --prefix="$src/zlib/prefix" --libdir="$out/lib" \
  && make -j"$jobs" install) >&2

log "libelf from elfutils ($arch)"
elf_cflags="$cflags -I$src/zlib -Wno-error"
(cd "$src/elfutils" && autoreconf --install --force \
  && CFLAGS="$elf_cflags" CXXFLAGS="$elf_cflags" LDFLAGS="-L$out/lib" ./configure --quiet \
    --host="$host" --enable-maintainer-mode --disable-debuginfod --disable-libdebuginfod \
    --disable-demangler --without-zstd --without-bzlib --without-lzma \
    --prefix="$src/elfutils/prefix" --libdir="$out/lib" --includedir="$out/include" \
  && make -C lib -j"$jobs" \
  && make -C libelf -j"$jobs" install) >&2
rm -f "$out"/lib/libelf*.so*

log "libbpf ($arch)"
(cd "$src/libbpf/src" && make -j"$jobs" install BUILD_STATIC_ONLY=y OBJDIR="$src/libbpf-obj" \
  PREFIX=/ LIBDIR=/lib INCLUDEDIR=/include DESTDIR="$out" \
  CFLAGS="$cflags -I$src/elfutils/libelf -I$src/zlib") >&2

for a in libbpf.a libelf.a libz.a; do
  [ -f "$out/lib/$a" ] || { echo "build-libbpf.sh: the build did not produce $out/lib/$a" >&2; exit 1; }
done
rm -rf "$src"
touch "$out/.done"
log "built $out in $((SECONDS - start)) s"
echo "$out"
