truncate -s 0 /var/log/app.log; rm -f /var/log/app.log.1
