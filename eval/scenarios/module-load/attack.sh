insmod /etc/hostname
