for p in $(seq 20 100) 8080; do nc -w 1 "$IP_web_server" $p < /dev/null; done
