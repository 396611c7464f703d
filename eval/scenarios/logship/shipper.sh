#!/bin/sh
# app + shipper: the app appends lines; every second the shipper posts the new lines to the collector;
# the log rotates at 300 lines
# Emulated remote code execution in this process: the harness drops /run/bw/<n>.sh (a read-only
# bind mount) and this loop sources it, so attack steps run inside the workload itself, as after an
# exploit, without `docker exec` (whose runc setns/mounts and shell would be alerts of their own).
bw_rce() { bw_n=1; while :; do if [ -f /run/bw/$bw_n.sh ]; then . /run/bw/$bw_n.sh; bw_n=$((bw_n+1)); fi; sleep 0.25; done; }
bw_rce &
mkdir -p /var/log
: > /var/log/app.log
( j=0; while :; do echo "$(date) app: request $j handled in $((j % 13)) ms" >> /var/log/app.log; j=$((j + 1)); sleep 0.2; done ) &
sent=0
while :; do
  lines=$(wc -l < /var/log/app.log)
  if [ "$lines" -lt "$sent" ]; then sent=0; fi
  if [ "$lines" -gt "$sent" ]; then
    tail -n +$((sent + 1)) /var/log/app.log | head -n $((lines - sent)) > /tmp/batch
    wget -q -O /dev/null --post-file /tmp/batch "http://$COL_IP:5140/cgi-bin/ingest" && sent=$lines
  fi
  if [ "$lines" -ge 300 ]; then mv /var/log/app.log /var/log/app.log.1; : > /var/log/app.log; sent=0; fi
  sleep 1
done
