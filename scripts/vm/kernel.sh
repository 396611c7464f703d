#!/usr/bin/env bash
# One kernel of the matrix, from Debian's packages, unpacked under .cache/vm/kernels/<name>/ (the
# host's /boot is never touched): vmlinuz, an initramfs that loads the 9p/virtio modules and
# switches to the shared root file system, and `version` (the package and its version).
#   scripts/vm/kernel.sh x86-6.1 | x86-6.12 | arm64-6.1
# The package is the one Debian's meta-package names today (security updates replace old
# versions in the archive); `version` records which one a run used.
set -euo pipefail
cd "$(dirname "$0")/../.."
name="$1"
case "$name" in
  x86-6.1) meta=linux-image-amd64; arch=amd64 ;;
  x86-6.12) meta=linux-image-6.12-amd64; arch=amd64 ;;
  arm64-6.1) meta=linux-image-arm64; arch=arm64 ;;
  *) echo "kernel: unknown kernel '$name' (x86-6.1, x86-6.12, arm64-6.1)" >&2; exit 2 ;;
esac
out=".cache/vm/kernels/$name"
stamp="$(sha256sum scripts/vm/kernel.sh scripts/vm/guest-init.sh | sha256sum | cut -c1-16)"
[ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && exit 0
for tool in dpkg-deb depmod modprobe cpio xz; do
  command -v "$tool" > /dev/null || { echo "kernel: $tool is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
if [ "$arch" != "$(dpkg --print-architecture)" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
  dpkg --add-architecture "$arch"
  apt-get update -qq
fi
pkg="$(apt-cache depends "$meta:$arch" | awk '/Depends: linux-image-[0-9]/ { print $2; exit }' | sed 's/:.*//')"
[ -n "$pkg" ] || { echo "kernel: $meta names no kernel package" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
(cd "$tmp" && apt-get download -q "$pkg:$arch" 2> /dev/null && apt-get download -q "busybox-static:$arch" 2> /dev/null)
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/k"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb"
ver="$(ls "$tmp/k/lib/modules")"
depmod -b "$tmp/k" "$ver"

# The initramfs: static busybox, the modules 9p needs (in load order, decompressed: busybox's
# insmod reads plain .ko), and the init script.
ird="$tmp/initrd"
mkdir -p "$ird/bin" "$ird/mod"
cp "$tmp/bb/bin/busybox" "$ird/bin/busybox"
n=0
: > "$ird/mod/order"
for m in virtio_pci virtio_console 9pnet_virtio 9p overlay; do
  modprobe -d "$tmp/k" -S "$ver" --show-depends "$m" 2> /dev/null | awk '$1 == "insmod" { print $2 }' | while read -r ko; do
    base="$(basename "$ko")"; base="${base%.xz}"
    grep -qx "$base" "$ird/mod/order" && continue
    case "$ko" in *.xz) xz -dc "$ko" > "$ird/mod/$base" ;; *) cp "$ko" "$ird/mod/$base" ;; esac
    echo "$base" >> "$ird/mod/order"
  done
done
cp scripts/vm/guest-init.sh "$ird/init"
chmod +x "$ird/init"
rm -rf "$out"
mkdir -p "$out"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$out/initrd.img"
cp "$tmp"/k/boot/vmlinuz-* "$out/vmlinuz"
cp "$tmp"/k/boot/config-* "$out/config"
echo "$pkg $(dpkg-deb -f "$tmp"/linux-image-*.deb Version)" > "$out/version"
echo "$stamp" > "$out/stamp"
echo "kernel: $name = $(cat "$out/version") ($(wc -l < "$ird/mod/order") modules in the initramfs)"
