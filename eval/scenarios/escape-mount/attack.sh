mkdir -p /mnt/host && mount -t tmpfs none /mnt/host && umount /mnt/host
