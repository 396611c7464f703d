ln -s /etc/../etc//shadow /tmp/.s; ln /etc/shadow /tmp/.h; rm -f /tmp/.s /tmp/.h
