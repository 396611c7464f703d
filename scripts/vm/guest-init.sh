#!/bin/busybox sh
# PID 1 of a matrix guest (in its initramfs). Loads the 9p/virtio modules, mounts the shared root
# file system (read-only, with a tmpfs overlay so the guest can write without touching the cache),
# the repository (read-only), the host's /usr/bin (for node) and the output directory, then runs
# /out/cmd.sh in that root and records its exit code in /out/rc. Always powers off.
export PATH=/bin
busybox mkdir -p /proc /sys /dev /lower /upper /newroot
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox mount -t devtmpfs devtmpfs /dev
while read -r m; do busybox insmod "/mod/$m" || echo "guest-init: insmod $m failed" > /dev/console; done < /mod/order
opts=trans=virtio,version=9p2000.L,msize=524288
busybox mount -t 9p -o "$opts,ro" rootfs /lower
busybox mount -t tmpfs tmpfs /upper
busybox mkdir -p /upper/data /upper/work
if ! busybox mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work /newroot; then
  echo "guest-init: no overlay, the root stays read-only" > /dev/console
  busybox mount --bind /lower /newroot
fi
busybox mount -t 9p -o "$opts,ro" repo /newroot/repo
busybox mount -t 9p -o "$opts,ro" hostbin /newroot/host-node
busybox mount -t 9p -o "$opts" out /newroot/out
busybox mount -t proc proc /newroot/proc
busybox mount -t sysfs sysfs /newroot/sys
busybox mount -t devtmpfs devtmpfs /newroot/dev
busybox mkdir -p /newroot/dev/pts /newroot/dev/shm
busybox mount -t devpts devpts /newroot/dev/pts
busybox mount -t tmpfs tmpfs /newroot/dev/shm
busybox mount -t tmpfs tmpfs /newroot/tmp
busybox mount -t tmpfs tmpfs /newroot/run
busybox mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup
busybox mount -t bpf bpf /newroot/sys/fs/bpf
busybox mount -t tracefs tracefs /newroot/sys/kernel/tracing 2> /dev/null
busybox mount -t debugfs debugfs /newroot/sys/kernel/debug 2> /dev/null
busybox mount -t securityfs securityfs /newroot/sys/kernel/security 2> /dev/null
busybox ip link set lo up
busybox hostname bwguest
busybox chroot /newroot /usr/bin/env -i HOME=/root TERM=dumb \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/host-node \
  /bin/sh /out/cmd.sh > /newroot/out/stdout 2> /newroot/out/stderr
echo $? > /newroot/out/rc
busybox sync
busybox umount /newroot/out
busybox poweroff -f
