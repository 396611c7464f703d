#!/bin/sh
# key-value client: a put and a get of 20 rotating keys, about 6 requests per second
# Emulated remote code execution in this process: the harness drops /run/bw/<n>.sh (a read-only
# bind mount) and this loop sources it, so attack steps run inside the workload itself, as after an
# exploit, without `docker exec` (whose runc setns/mounts and shell would be alerts of their own).
bw_rce() { bw_n=1; while :; do if [ -f /run/bw/$bw_n.sh ]; then . /run/bw/$bw_n.sh; bw_n=$((bw_n+1)); fi; sleep 0.25; done; }
bw_rce &
i=0
while :; do
  wget -q -O /dev/null --post-data "value-$i" "http://$KV_IP:7000/cgi-bin/kv?k=key$((i % 20))"
  wget -q -O /dev/null "http://$KV_IP:7000/cgi-bin/kv?k=key$(((i * 7) % 20))"
  i=$((i + 1))
  sleep 0.3
done
