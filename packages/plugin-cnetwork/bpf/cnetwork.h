/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records and map values of the cnetwork plugin. Fixed-width types only: this file is read by the
 * BPF compiler and, through the BTF of the built object, by the layout generator that the
 * TypeScript decoder uses (src/generated/layout.ts).
 *
 * Addresses are always 16 bytes: IPv4 is stored v4-mapped (::ffff:a.b.c.d), so an IPv4 socket and
 * an AF_INET6 socket talking to an IPv4 peer (busybox `nc -l`) produce the same key.
 * Ports are in host byte order.
 */
#ifndef BOXWATCH_CNETWORK_H
#define BOXWATCH_CNETWORK_H

#include "boxwatch/event.h"

/* bw_event_header.type of the ring-buffer records */
#define CN_REC_CONNECT 1
#define CN_REC_ACCEPT 2
#define CN_REC_LISTEN 3
#define CN_REC_BANNED 4
#define CN_REC_FLOW_END 5

#define CN_DIR_SEND 0
#define CN_DIR_RECV 1

#define CN_PROTO_TCP 6
#define CN_PROTO_UDP 17

/* Key of cnetwork_banned: one ordered (local, remote) address pair. Userspace inserts both
 * orders of every banned pair so the kernel needs one lookup. */
struct cn_pair_key {
	__u8 saddr[16];
	__u8 daddr[16];
};

/* Key of cnetwork_netns_banned: a socket bound to the wildcard address (an unconnected UDP
 * socket: its local address is chosen per datagram) is matched by its network namespace and the
 * remote address instead. Userspace derives these from the banned pairs whose local address
 * belongs to a container it knows the network namespace of. */
struct cn_netns_key {
	__u32 netns_ino;
	__u32 _pad;
	__u8 remote[16];
};

/* Value of cnetwork_netns_banned: the rule, and the container address of the pair it came from
 * (reported as the local address of the net.banned record). */
struct cn_netns_ban {
	__u8 local[16];
	__u32 rule;
};

/* net.connect / net.accept / net.listen */
struct cn_conn_record {
	struct bw_event_header hdr;
	__u8 saddr[16]; /* local */
	__u8 daddr[16]; /* remote (zero for listen) */
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 _pad[3];
};

/* net.banned: one send or receive (TCP) or datagram (UDP) of a banned pair, from the process's own context */
struct cn_banned_record {
	struct bw_event_header hdr;
	__u8 saddr[16]; /* local end of the socket */
	__u8 daddr[16]; /* remote end of the socket */
	__u64 bytes;
	__u32 rule; /* value of the matching cnetwork_banned entry (userspace rule number) */
	__u16 sport;
	__u16 dport;
	__u8 direction; /* CN_DIR_* */
	__u8 proto;     /* CN_PROTO_* */
	__u8 _pad[6];
};

/* Key of the flow maps. TCP: one entry per socket (sock cookie, remote fields zero).
 * UDP: one entry per (socket, peer): the destination of sends, the source of receives. */
struct cn_flow_key {
	__u64 sock;
	__u8 daddr[16];
	__u16 dport;
	__u8 proto;
	__u8 _pad[5];
};

/* Value of the flow maps. Counters only grow (TCP flows are read, never deleted by userspace while
 * their socket lives, so an update racing with the reader is never lost; userspace reports deltas).
 * A TCP flow lives as long as its socket, not its connection: a process may still read and write
 * after the state became CLOSE (a peer's RST), so the entry leaves the map at tcp_destroy_sock. */
struct cn_flow {
	struct bw_event_header owner; /* first process context seen on the socket; cgroup from the socket */
	__u8 saddr[16];
	__u8 daddr[16];
	__u64 bytes_sent;
	__u64 bytes_recv;
	__u64 sends;
	__u64 recvs;
	__u16 sport;
	__u16 dport;
	__u16 states_seen; /* bit n set: the socket entered TCP state n */
	__u8 state;        /* last TCP state (enum tcp_state numbering) */
	__u8 proto;
	__u8 ended;        /* the socket is destroyed but its end record found the ring full: userspace reports and deletes it */
	__u8 _pad[7];
};

/* A TCP flow taken out of cnetwork_tcp_flows when its socket was destroyed: the final counters. */
struct cn_flow_end_record {
	struct bw_event_header hdr; /* the flow's owner; ts is the close, type CN_REC_FLOW_END */
	struct cn_flow_key key;     /* the map key it had (userspace's identity of the flow) */
	struct cn_flow flow;
};

#endif /* BOXWATCH_CNETWORK_H */
