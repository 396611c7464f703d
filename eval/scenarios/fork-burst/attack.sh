# in the background: the workload's loop must not block for the 30 s
( i=0; while [ $i -lt 300 ]; do sleep 30 & i=$((i + 1)); done; wait ) &
