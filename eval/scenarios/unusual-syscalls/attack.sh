for f in /proc/[0-9]*/environ /proc/[0-9]*/maps /proc/[0-9]*/status; do cat "$f"; done
ls -laR /proc/self/ /etc /sys/class/net
