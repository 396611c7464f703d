#!/bin/sh
# the "malware" the download-and-execute scenarios fetch from the attacker's web server
echo pwned > /dev/null
