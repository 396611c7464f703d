#!/bin/sh
# web server: busybox httpd on :8080 with /www (index.html, cgi-bin/status)
# Emulated remote code execution in this process: the harness drops /run/bw/<n>.sh (a read-only
# bind mount) and this loop sources it, so attack steps run inside the workload itself, as after an
# exploit, without `docker exec` (whose runc setns/mounts and shell would be alerts of their own).
bw_rce() { bw_n=1; while :; do if [ -f /run/bw/$bw_n.sh ]; then . /run/bw/$bw_n.sh; bw_n=$((bw_n+1)); fi; sleep 0.25; done; }
bw_rce &
httpd -f -p 8080 -h /www &
wait
