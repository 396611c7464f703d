apt-get install -y ncat
