echo id >> /root/.ash_history; : > /root/.ash_history; rm -f /root/.ash_history
