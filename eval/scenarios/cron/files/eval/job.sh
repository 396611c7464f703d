#!/bin/sh
# one batch run: write a report, archive every 5th run, keep the last 10 reports
n=$1
{ date; echo "run $n"; ls -l /data/out | wc -l; df /data 2>/dev/null | tail -1; } > /data/out/report-$n.txt
case "$n" in *[05]) tar -czf /data/archive/reports-$n.tgz -C /data out 2>/dev/null ;; esac
ls -t /data/out | tail -n +11 | while read f; do rm -f "/data/out/$f"; done
ls -t /data/archive | tail -n +4 | while read f; do rm -f "/data/archive/$f"; done
