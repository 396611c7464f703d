#!/bin/sh
# A service whose entrypoint is a shell script, as many images have. No emulated-RCE loop: nothing
# attacks this workload; it is here to be watched for false alerts only.
set -u
# "Install" step at start, as entrypoints of images built from tarballs do: unpack, copy into place.
mkdir -p /tmp/unpack /usr/local/lib/svc /var/log/svc /srv/www
tar -xzf /opt/svc/bundle.tar.gz -C /tmp/unpack
cp -r /tmp/unpack/. /usr/local/lib/svc/
chmod -R go-w /usr/local/lib/svc
rm -rf /tmp/unpack
echo ok > /srv/www/health
httpd -p 8080 -h /srv/www
self=$(hostname -i)  # the address Docker wrote to /etc/hosts for this container
: > /var/log/svc/app.log
n=0
while :; do
  # Health checks from a shell: wget to loopback and to the container's own address.
  if wget -q -O /dev/null http://127.0.0.1:8080/health && wget -q -O /dev/null "http://$self:8080/health"; then
    echo "$(date) health ok $n" >> /var/log/svc/app.log
  else
    echo "$(date) health FAILED $n" >> /var/log/svc/app.log
  fi
  n=$((n + 1))
  # Rotation every ROTATE_EVERY checks (default 20): keep three gzipped generations.
  if [ $((n % ${ROTATE_EVERY:-20})) -eq 0 ]; then
    rm -f /var/log/svc/app.log.3.gz
    [ -f /var/log/svc/app.log.2.gz ] && mv /var/log/svc/app.log.2.gz /var/log/svc/app.log.3.gz
    [ -f /var/log/svc/app.log.1.gz ] && mv /var/log/svc/app.log.1.gz /var/log/svc/app.log.2.gz
    mv /var/log/svc/app.log /var/log/svc/app.log.1 && gzip /var/log/svc/app.log.1
    : > /var/log/svc/app.log
  fi
  sleep 2
done
