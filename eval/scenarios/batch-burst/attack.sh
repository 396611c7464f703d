i=0; while [ $i -lt 60 ]; do /eval/job.sh b$i; i=$((i + 1)); done
