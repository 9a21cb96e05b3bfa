set -x
ip link set lo up
ip link add v0 type veth peer name v1; ip link set v0 up; ip link set v1 up
ip addr add 192.168.7.1/24 dev v0
ip addr add 10.0.0.1/32 dev lo
ip -6 addr add 2001:db8::1/128 dev lo nodad
ip -6 addr add 2001:db8:7::1/64 dev v0 nodad
ipvsadm -A -u 10.0.0.1:9999 -s rr
ipvsadm -a -u 10.0.0.1:9999 -r 192.168.7.2:7777 -m
ipvsadm -A -t 10.0.0.1:80 -s rr -p 100
ipvsadm -a -t 10.0.0.1:80 -r 192.168.7.3:80 -m
ipvsadm -A -u [2001:db8::1]:53 -s rr
ipvsadm -a -u [2001:db8::1]:53 -r [2001:db8:7::2]:5353 -m
python3 -c '
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.sendto(b"x",("10.0.0.1",9999))
s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); s.sendto(b"x",("2001:db8::1",53))
t=socket.socket(); t.setblocking(False)
try: t.connect(("10.0.0.1",80))
except Exception as e: print(e)
'
sleep 1
cat /proc/net/ip_vs_conn
ipvsadm -Lnc
