find / -xdev \( -name 'id_rsa*' -o -name 'id_ed25519*' -o -name '*.pem' -o -name '*.key' \) | while read f; do cat "$f"; done
