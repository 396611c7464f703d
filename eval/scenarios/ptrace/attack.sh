/usr/local/bin/ptattach 1
