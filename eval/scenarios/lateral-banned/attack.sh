wget -q -O /dev/null "http://$IP_kv_server:7000/cgi-bin/kv?k=key1"
