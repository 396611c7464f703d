#!/bin/sh
# build-like loop: many short processes (exec'd by path, as make runs tools)
# Emulated remote code execution in this process: the harness drops /run/bw/<n>.sh (a read-only
# bind mount) and this loop sources it, so attack steps run inside the workload itself, as after an
# exploit, without `docker exec` (whose runc setns/mounts and shell would be alerts of their own).
bw_rce() { bw_n=1; while :; do if [ -f /run/bw/$bw_n.sh ]; then . /run/bw/$bw_n.sh; bw_n=$((bw_n+1)); fi; sleep 0.25; done; }
bw_rce &
mkdir -p /work/src /work/obj
b=0
while :; do
  for f in 1 2 3 4 5 6 7 8; do echo "int f$f(void) { return $f + $b; }" > /work/src/m$f.c; done
  for f in 1 2 3 4 5 6 7 8; do
    /bin/sed 's/int/long/' /work/src/m$f.c > /work/obj/m$f.o
    /bin/md5sum /work/obj/m$f.o > /work/obj/m$f.sum
  done
  /bin/cat /work/obj/*.o > /work/app.bin
  /bin/sh -c "/bin/gzip -c /work/app.bin > /work/app.bin.gz && /bin/ls -l /work > /work/build.log"
  b=$((b + 1))
  sleep 3
done
