#!/usr/bin/env bash
# Build the busybox image the tests and the evaluation use, from Debian's busybox-static: no
# image registry is needed (or reachable). Tag: boxwatch-test/busybox:latest.
set -euo pipefail
IMAGE=boxwatch-test/busybox:latest
if docker image inspect "$IMAGE" >/dev/null 2>&1 && [ -z "${FORCE:-}" ]; then exit 0; fi
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/bin" "$d/etc" "$d/tmp" "$d/root" "$d/proc" "$d/sys" "$d/dev" "$d/var/log" "$d/usr/bin" "$d/sbin"
cp /bin/busybox "$d/bin/busybox"
for a in $(/bin/busybox --list); do
  # `busybox --list` names busybox itself: linking it would replace the binary with a loop.
  [ "$a" = busybox ] && continue
  ln -sf busybox "$d/bin/$a"
done
chmod 1777 "$d/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$d/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$d/etc/passwd"
echo 'root:x:0:' >"$d/etc/group"
echo 'root:*:19000:0:99999:7:::' >"$d/etc/shadow"
chmod 600 "$d/etc/shadow"
tar -C "$d" -c . | docker import -c 'CMD ["/bin/sh"]' - "$IMAGE" >/dev/null
echo "built $IMAGE" >&2
