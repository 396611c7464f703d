wget -q -O /dev/null "http://$DL_IP:6443/api"
