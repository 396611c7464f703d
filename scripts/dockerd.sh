#!/usr/bin/env bash
# Start dockerd if it is not running, and wait until it answers.
set -euo pipefail
if docker info >/dev/null 2>&1; then exit 0; fi
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
  nohup dockerd >/var/log/boxwatch-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "dockerd did not come up; see /var/log/boxwatch-dockerd.log" >&2
tail -20 /var/log/boxwatch-dockerd.log >&2 || true
exit 1
