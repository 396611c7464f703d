arping -c 1 -w 1 -I lo 127.0.0.1
