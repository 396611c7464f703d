nsenter -t 1 -m -u -n /bin/true
