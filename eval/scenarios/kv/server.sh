#!/bin/sh
# key-value server: PUT = POST body to /cgi-bin/kv?k=KEY, GET = /cgi-bin/kv?k=KEY; values in /data
# Emulated remote code execution in this process: the harness drops /run/bw/<n>.sh (a read-only
# bind mount) and this loop sources it, so attack steps run inside the workload itself, as after an
# exploit, without `docker exec` (whose runc setns/mounts and shell would be alerts of their own).
bw_rce() { bw_n=1; while :; do if [ -f /run/bw/$bw_n.sh ]; then . /run/bw/$bw_n.sh; bw_n=$((bw_n+1)); fi; sleep 0.25; done; }
bw_rce &
mkdir -p /data
httpd -f -p 7000 -h /srv &
wait
