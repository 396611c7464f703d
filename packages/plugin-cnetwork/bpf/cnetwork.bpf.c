// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cnetwork: container network traffic.
 *
 *  - net.banned: a TCP send/receive or a UDP datagram between an address pair listed in
 *    `cnetwork_banned` (kept by userspace from the rules) produces a record from the process's own
 *    context with the exact byte count the syscall moved (tp_btf/sock_send_length,
 *    tp_btf/sock_recv_length). A UDP socket bound to the wildcard address is matched through
 *    `cnetwork_netns_banned` (its network namespace + the remote address).
 *  - flows: bytes and calls per TCP socket / per UDP (socket, peer) accumulate in hash maps that
 *    userspace reads on an interval; inet_sock_set_state gives the TCP state changes and the
 *    immediate connect / accept / listen records.
 *
 * "Container socket" = a socket whose network namespace is not the host's (host_netns_ino, set by
 * userspace from /proc/1/ns/net). This is decided from the socket, not the current task, because
 * state changes (SYN-ACK → ESTABLISHED, accepted children) run in softirq context where the
 * current task is whoever happened to be on the CPU. Containers run with --network=host are
 * therefore not seen (unless include_host is set).
 *
 * Two hook variants live in this object (userspace autoloads one):
 *  - tp (preferred): tp_btf/inet_sock_set_state, tp_btf/sock_send_length, tp_btf/sock_recv_length,
 *    plus (optional, when classic tracepoints work) tracepoint/syscalls/sys_{enter,exit}_{sendto,
 *    sendmsg,sendmmsg}, which give UDP sends the destination address the syscall names, and
 *    tracepoint/syscalls/sys_exit_{recvfrom,recvmsg,recvmmsg}, which give UDP receives the source
 *    address the kernel wrote into the syscall's msg_name.
 *  - kprobe (the seed's): kprobe/__tcp_transmit_skb + kprobe/tcp_v4_do_rcv, banned-pair records
 *    only, byte counts from the skb (payload per segment, retransmits included: not exact).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "boxwatch/common.h"
#include "cnetwork.h"

#define AF_INET 2
#define AF_INET6 10
#define MSG_PEEK 2
#define PF_IO_WORKER 0x00000010
#define PF_KTHREAD 0x00200000

BW_EXPORT_STRUCT(cn_conn_record);
BW_EXPORT_STRUCT(cn_banned_record);
BW_EXPORT_STRUCT(cn_flow_end_record);
BW_EXPORT_STRUCT(cn_flow_key);
BW_EXPORT_STRUCT(cn_flow);
BW_EXPORT_STRUCT(cn_pair_key);
BW_EXPORT_STRUCT(cn_netns_key);
BW_EXPORT_STRUCT(cn_netns_ban);

/* Inode number of the host's network namespace: sockets in it are not container sockets. */
const volatile u32 host_netns_ino = 0;
/* Report host sockets too (debugging / --network=host containers). */
const volatile bool include_host = false;

/* The size is set at load from the ringBufferBytes option (default 4 MiB). */
BW_RINGBUF(cnetwork_events, 256 * 1024);

/* Banned address pairs: (local, remote) → rule number. Both orders are inserted by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct cn_pair_key);
	__type(value, u32);
} cnetwork_banned SEC(".maps");

/* Banned remote addresses of wildcard-bound sockets: (netns, remote) → (rule, container address). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct cn_netns_key);
	__type(value, struct cn_netns_ban);
} cnetwork_netns_banned SEC(".maps");

/* TCP flows, one per socket. Userspace reads counters and deletes an entry only once the socket
 * is closed and reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cn_flow_key);
	__type(value, struct cn_flow);
} cnetwork_tcp_flows SEC(".maps");

/* UDP traffic per (socket, peer): sends per destination, receives per source; drained
 * (lookup-and-delete batch) every interval. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct cn_flow_key);
	__type(value, struct cn_flow);
} cnetwork_udp_flows SEC(".maps");

/* Who listens on (netns, port): the accepted children are created in softirq context, so the
 * net.accept record takes its process from the listener's owner. */
struct cn_listener_key {
	u32 netns_ino;
	u16 port;
	u16 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct cn_listener_key);
	__type(value, struct bw_event_header);
} cnetwork_listeners SEC(".maps");

/* The destination a thread's current sendto()/sendmsg()/sendmmsg() names (user pointers, read in
 * sock_send_length, which runs inside that syscall): sock_send_length only has the socket, and an
 * unconnected UDP socket (or one given an explicit address) has no usable peer there. Set at
 * sys_enter, deleted at sys_exit; LRU so a thread killed inside the syscall cannot fill the map. */
#define CN_SEND_SENDTO 1
#define CN_SEND_SENDMSG 2
#define CN_SEND_SENDMMSG 3
struct cn_pending_send {
	u64 uptr;    /* sendto: struct sockaddr *; sendmsg: struct user_msghdr *; sendmmsg: struct mmsghdr * */
	u32 addrlen; /* sendto */
	u32 index;   /* sendmmsg: message the next sock_send_length belongs to */
	u32 vlen;    /* sendmmsg */
	u8 kind;     /* CN_SEND_* */
	u8 _pad[3];
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, u64); /* pid_tgid */
	__type(value, struct cn_pending_send);
} cnetwork_pending_send SEC(".maps");

/*
 * The datagram a thread's current recvfrom()/recvmsg()/recvmmsg() received last, waiting for its
 * source address. sock_recv_length runs before the syscall copies the source address to the user's
 * msg_name, so the datagram is accounted when that copy is done: at the syscall's exit, or, for
 * recvmmsg, at the next message's sock_recv_length (each message's address is copied before the
 * next message is read). Created at sock_recv_length, deleted at sys_exit; LRU as above.
 */
struct cn_pending_recv {
	u64 cookie;    /* socket cookie of the outstanding datagram */
	u64 cgroup_id; /* the socket's container key */
	u64 name;      /* user pointer the source sockaddr is written to */
	u64 bytes;     /* outstanding datagram's length (return value); 0 = nothing outstanding */
	u64 msgvec;    /* recvmmsg: struct mmsghdr * of the call (0 otherwise) */
	u8 saddr[16];  /* socket's local address */
	u8 peer[16];   /* socket's connected peer (unspecified when unconnected) */
	u16 sport;
	u16 peer_port;
	u32 netns_ino;
	u32 namecap;   /* size of the user's sockaddr buffer */
	u32 msg;       /* recvmmsg: index of the outstanding message */
	u32 next;      /* recvmmsg: index of the next message */
	u32 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, u64); /* pid_tgid */
	__type(value, struct cn_pending_recv);
} cnetwork_pending_recv SEC(".maps");

/* Run-time switches set by userspace after attaching: [0] bit 0 = the recv sys_exit tracepoints are
 * attached (pending receives are only created when something deletes them). */
#define CN_SETTING_RECV_NAMES 1u
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cnetwork_settings SEC(".maps");

/* Where flows can be lost: [0] TCP flow map full, [1] UDP flow map full, [2] listener map full. */
#define CN_DROP_TCP_FLOW_FULL 0
#define CN_DROP_UDP_FLOW_FULL 1
#define CN_DROP_LISTENER_FULL 2
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} cnetwork_drops SEC(".maps");

static __always_inline void count_drop(u32 what)
{
	u64 *c = bpf_map_lookup_elem(&cnetwork_drops, &what);
	if (c)
		(*c)++;
}

/* ------------------------------------------------------------------------------------------ */

static __always_inline u32 sock_netns_ino(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline bool is_container_sock(const struct sock *sk)
{
	return include_host || sock_netns_ino(sk) != host_netns_ino;
}

/* cgroup v2 id of the task that created the socket (the container key, same as
 * bpf_get_current_cgroup_id() in that task). Accepted sockets inherit the listener's. */
static __always_inline u64 sock_cgroup_id(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_cgrp_data.cgroup, kn, id);
}

static __always_inline void v4_mapped(u8 out[16], u32 addr_be)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &addr_be, 4);
}

static __always_inline bool is_unspecified(const u8 a[16])
{
	u64 hi, lo;
	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	return (hi | lo) == 0;
}

/* The unspecified address in either form: :: or ::ffff:0.0.0.0 (an AF_INET socket's wildcard). */
static __always_inline bool is_any(const u8 a[16])
{
	u64 hi, lo;
	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	return hi == 0 && (lo == 0 || lo == bpf_cpu_to_be64(0xffffULL << 32));
}

/* Local and remote address/port of an inet socket; false for other families. */
static __always_inline bool sock_tuple(const struct sock *sk, u8 saddr[16], u8 daddr[16], u16 *sport, u16 *dport)
{
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		v4_mapped(saddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		v4_mapped(daddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	} else if (family == AF_INET6) {
		/* explicit size: BPF_CORE_READ_INTO would take sizeof(*saddr), i.e. 1 byte */
		bpf_core_read(saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(daddr, 16, &sk->__sk_common.skc_v6_daddr);
		/* An AF_INET6 socket carrying IPv4 (busybox `nc -l` accepting a v4 client): the child
		 * made by the v4 path has only the v4 fields filled, the v6 ones stay unspecified. */
		u32 d4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		u32 s4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		if (d4 && is_unspecified(daddr))
			v4_mapped(daddr, d4);
		if (s4 && is_unspecified(saddr))
			v4_mapped(saddr, s4);
	} else {
		return false;
	}
	*sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	*dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	return true;
}

/* The current task as a flow owner, with the container key taken from the socket. */
static __always_inline void fill_owner(struct bw_event_header *h, const struct sock *sk)
{
	bw_fill_header(h, 0, bpf_get_current_task_btf());
	h->cgroup_id = sock_cgroup_id(sk);
}

/* A header with no process (softirq context): only the socket's container key. */
static __always_inline void fill_anonymous(struct bw_event_header *h, const struct sock *sk)
{
	__builtin_memset(h, 0, sizeof(*h));
	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = sock_cgroup_id(sk);
}

/* ------------------------------------------------------------------------------------------ */
/* Flow accounting */

/* Find or create a TCP flow entry; NULL only when the map is full (counted). `owner_from_current`
 * says whether the current task is the socket's process (syscall context). */
static __always_inline struct cn_flow *flow_entry(void *map, struct cn_flow_key *key, const struct sock *sk, u8 proto,
						  bool owner_from_current, u32 drop_slot)
{
	struct cn_flow *f = bpf_map_lookup_elem(map, key);
	if (f)
		return f;
	struct cn_flow init = {};
	if (owner_from_current)
		fill_owner(&init.owner, sk);
	else
		fill_anonymous(&init.owner, sk);
	sock_tuple(sk, init.saddr, init.daddr, &init.sport, &init.dport);
	init.proto = proto;
	init.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	long err = bpf_map_update_elem(map, key, &init, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST: another CPU created it first */)
		count_drop(drop_slot);
	return bpf_map_lookup_elem(map, key);
}

/* ------------------------------------------------------------------------------------------ */
/* Banned pairs */

static __always_inline void emit_banned(const u8 saddr[16], u16 sport, const u8 daddr[16], u16 dport, u64 bytes, u32 rule,
					u8 direction, u8 proto)
{
	struct cn_banned_record *r = BW_RESERVE(cnetwork_events, cnetwork_events_lost, sizeof(*r));
	if (!r)
		return;
	bw_fill_header(&r->hdr, CN_REC_BANNED, bpf_get_current_task_btf());
	__builtin_memcpy(r->saddr, saddr, 16);
	__builtin_memcpy(r->daddr, daddr, 16);
	r->bytes = bytes;
	r->rule = rule;
	r->sport = sport;
	r->dport = dport;
	r->direction = direction;
	r->proto = proto;
	__builtin_memset(r->_pad, 0, sizeof(r->_pad));
	BW_SUBMIT(cnetwork_events, r);
}

static __always_inline void banned_check(const struct sock *sk, u64 bytes, u8 direction)
{
	struct cn_pair_key pk;
	u16 sport, dport;
	if (!sock_tuple(sk, pk.saddr, pk.daddr, &sport, &dport))
		return;
	u32 *rule = bpf_map_lookup_elem(&cnetwork_banned, &pk);
	if (rule)
		emit_banned(pk.saddr, sport, pk.daddr, dport, bytes, *rule, direction, CN_PROTO_TCP);
}

/* ------------------------------------------------------------------------------------------ */
/* Destination of a send that names one (classic syscall tracepoints, attached with the tp variant) */

static __always_inline void pending_set(u8 kind, u64 uptr, u32 addrlen, u32 vlen)
{
	u64 id = bpf_get_current_pid_tgid();
	if (!uptr) {
		bpf_map_delete_elem(&cnetwork_pending_send, &id);
		return;
	}
	struct cn_pending_send p = { .uptr = uptr, .addrlen = addrlen, .vlen = vlen, .kind = kind };
	bpf_map_update_elem(&cnetwork_pending_send, &id, &p, BPF_ANY);
}

static __always_inline void pending_clear(void)
{
	u64 id = bpf_get_current_pid_tgid();
	bpf_map_delete_elem(&cnetwork_pending_send, &id);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int cn_sys_enter_sendto(struct trace_event_raw_sys_enter *ctx)
{
	/* sendto(fd, buf, len, flags, addr, addrlen) */
	pending_set(CN_SEND_SENDTO, ctx->args[4], (u32)ctx->args[5], 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int cn_sys_enter_sendmsg(struct trace_event_raw_sys_enter *ctx)
{
	/* sendmsg(fd, msg, flags) */
	pending_set(CN_SEND_SENDMSG, ctx->args[1], 0, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int cn_sys_enter_sendmmsg(struct trace_event_raw_sys_enter *ctx)
{
	/* sendmmsg(fd, msgvec, vlen, flags) */
	pending_set(CN_SEND_SENDMMSG, ctx->args[1], 0, (u32)ctx->args[2]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int cn_sys_exit_sendto(void *ctx)
{
	pending_clear();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int cn_sys_exit_sendmsg(void *ctx)
{
	pending_clear();
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int cn_sys_exit_sendmmsg(void *ctx)
{
	pending_clear();
	return 0;
}

/*
 * The destination address the current send syscall names for this datagram, if any. Called once per
 * sock_send_length of a UDP socket (also for failed and empty sends: a sendmmsg advances one
 * message per call). False when the syscall names no address (connected socket, write/send) or the
 * user memory cannot be read: the socket's own peer applies then.
 */
static __always_inline bool pending_dest(u8 daddr[16], u16 *dport)
{
	u64 id = bpf_get_current_pid_tgid();
	struct cn_pending_send *p = bpf_map_lookup_elem(&cnetwork_pending_send, &id);
	if (!p)
		return false;
	u64 name = 0;
	u32 namelen = 0;
	if (p->kind == CN_SEND_SENDTO) {
		name = p->uptr;
		namelen = p->addrlen;
	} else {
		u64 hdr = p->uptr;
		if (p->kind == CN_SEND_SENDMMSG) {
			u32 i = p->index;
			if (i >= p->vlen)
				return false;
			p->index = i + 1;
			hdr += (u64)i * sizeof(struct mmsghdr);
		}
		struct user_msghdr m;
		if (bpf_probe_read_user(&m, sizeof(m), (void *)hdr))
			return false;
		name = (u64)m.msg_name;
		namelen = m.msg_namelen < 0 ? 0 : (u32)m.msg_namelen;
	}
	if (!name)
		return false;
	u16 family = 0;
	if (namelen < sizeof(family) || bpf_probe_read_user(&family, sizeof(family), (void *)name))
		return false;
	if (family == AF_INET && namelen >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in sin;
		if (bpf_probe_read_user(&sin, sizeof(sin), (void *)name))
			return false;
		v4_mapped(daddr, sin.sin_addr.s_addr);
		*dport = bpf_ntohs(sin.sin_port);
		return true;
	}
	if (family == AF_INET6 && namelen >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 sin6;
		if (bpf_probe_read_user(&sin6, sizeof(sin6), (void *)name))
			return false;
		__builtin_memcpy(daddr, &sin6.sin6_addr, 16);
		*dport = bpf_ntohs(sin6.sin6_port);
		return true;
	}
	return false;
}

/* ------------------------------------------------------------------------------------------ */
/* UDP accounting: per (socket, peer) flows and banned pairs, shared by the send and receive paths */

/* One end of a UDP socket, captured while the socket is at hand (the receive side accounts later,
 * at the syscall's exit, where only these copies remain). */
struct cn_udp_sock {
	u64 cookie;
	u64 cgroup_id;
	u8 saddr[16];
	u8 peer[16];
	u16 sport;
	u16 peer_port;
	u32 netns_ino;
};

/* sock_tuple() and friends for the BTF-typed socket of tp_btf/sock_{send,recv}_length: direct
 * (fault-checked) loads instead of a bpf_probe_read_kernel call per field, which made up most of the
 * per-datagram cost. The v6 addresses are still copied with one read each. */
static __always_inline void udp_sock(struct sock *sk, struct cn_udp_sock *u)
{
	struct sock_common *c = &sk->__sk_common;
	u->cookie = bpf_get_socket_cookie(sk);
	u->cgroup_id = sk->sk_cgrp_data.cgroup->kn->id;
	u->netns_ino = c->skc_net.net->ns.inum;
	u->sport = c->skc_num;
	u->peer_port = bpf_ntohs(c->skc_dport);
	u32 s4 = c->skc_rcv_saddr;
	u32 d4 = c->skc_daddr;
	if (c->skc_family == AF_INET6) {
		bpf_core_read(u->saddr, 16, &c->skc_v6_rcv_saddr);
		bpf_core_read(u->peer, 16, &c->skc_v6_daddr);
		/* v4 traffic on an AF_INET6 socket: see sock_tuple() */
		if (d4 && is_unspecified(u->peer))
			v4_mapped(u->peer, d4);
		if (s4 && is_unspecified(u->saddr))
			v4_mapped(u->saddr, s4);
	} else {
		v4_mapped(u->saddr, s4);
		v4_mapped(u->peer, d4);
	}
}

/*
 * `bytes` moved between the socket and `remote`:`rport` (unspecified when not known) in the
 * current task's syscall. Adds them to the (socket, peer) flow and reports a banned pair. The local
 * address of a wildcard-bound socket is chosen per datagram (by routing on send, by the sender on
 * receive) and is not known here: the socket's network namespace stands for it.
 */
static __always_inline void udp_account(const u8 saddr[16], u16 sport, u64 cookie, u64 cgroup_id, u32 netns_ino,
					const u8 remote[16], u16 rport, u64 bytes, u8 direction)
{
	struct cn_flow_key key = {};
	key.sock = cookie;
	__builtin_memcpy(key.daddr, remote, 16);
	key.dport = rport;
	key.proto = CN_PROTO_UDP;
	struct cn_flow *f = bpf_map_lookup_elem(&cnetwork_udp_flows, &key);
	if (!f) {
		struct cn_flow init = {};
		bw_fill_header(&init.owner, 0, bpf_get_current_task_btf());
		init.owner.cgroup_id = cgroup_id;
		__builtin_memcpy(init.saddr, saddr, 16);
		__builtin_memcpy(init.daddr, remote, 16);
		init.sport = sport;
		init.dport = rport;
		init.proto = CN_PROTO_UDP;
		long err = bpf_map_update_elem(&cnetwork_udp_flows, &key, &init, BPF_NOEXIST);
		if (err && err != -17 /* EEXIST: another CPU created it first */)
			count_drop(CN_DROP_UDP_FLOW_FULL);
		f = bpf_map_lookup_elem(&cnetwork_udp_flows, &key);
	}
	if (f) {
		if (direction == CN_DIR_SEND) {
			__sync_fetch_and_add(&f->bytes_sent, bytes);
			__sync_fetch_and_add(&f->sends, 1);
		} else {
			__sync_fetch_and_add(&f->bytes_recv, bytes);
			__sync_fetch_and_add(&f->recvs, 1);
		}
	}

	if (is_any(remote))
		return;
	if (!is_any(saddr)) {
		struct cn_pair_key pk;
		__builtin_memcpy(pk.saddr, saddr, 16);
		__builtin_memcpy(pk.daddr, remote, 16);
		u32 *rule = bpf_map_lookup_elem(&cnetwork_banned, &pk);
		if (rule)
			emit_banned(saddr, sport, remote, rport, bytes, *rule, direction, CN_PROTO_UDP);
		return;
	}
	struct cn_netns_key nk = { .netns_ino = netns_ino };
	__builtin_memcpy(nk.remote, remote, 16);
	struct cn_netns_ban *b = bpf_map_lookup_elem(&cnetwork_netns_banned, &nk);
	if (b) {
		u8 local[16];
		__builtin_memcpy(local, b->local, 16);
		emit_banned(local, sport, remote, rport, bytes, b->rule, direction, CN_PROTO_UDP);
	}
}

/* A UDP send of `ret` bytes (sock_send_length). */
static __always_inline void udp_send(struct sock *sk, int ret)
{
	struct cn_udp_sock u;
	udp_sock(sk, &u);
	/* The address the syscall names wins over the socket's peer (an unconnected socket has none;
	 * a connected one may be given another). Looked up before the ret check so that every message
	 * of a sendmmsg, empty or failed ones too, advances the message index. */
	u8 remote[16];
	u16 rport;
	if (!pending_dest(remote, &rport)) {
		__builtin_memcpy(remote, u.peer, 16);
		rport = u.peer_port;
	}
	if (ret <= 0)
		return;
	udp_account(u.saddr, u.sport, u.cookie, u.cgroup_id, u.netns_ino, remote, rport, ret, CN_DIR_SEND);
}

/* ---- UDP receives ---- */

/* x86_64 syscall numbers of the receive calls whose source address we read (the tracepoints are
 * the native ones; 32-bit compat calls have other numbers and fall back to the socket's peer). */
#define CN_NR_RECVFROM 45
#define CN_NR_RECVMSG 47
#define CN_NR_RECVMMSG 299

static __always_inline bool recv_names_on(void)
{
	u32 zero = 0;
	u32 *v = bpf_map_lookup_elem(&cnetwork_settings, &zero);
	return v && (*v & CN_SETTING_RECV_NAMES);
}

/*
 * Where the current receive syscall will write the source address of the datagram just received:
 * the user sockaddr pointer (0 when the call asks for none) and its buffer size. The syscall and its
 * arguments come from the task's saved user registers (bpf_task_pt_regs), so no sys_enter program
 * runs on every receive of every process. For recvmmsg, `*msgvec` is the vector and `*msg` the
 * message index, taken from and advanced in `p` (the thread's pending entry, may be NULL).
 */
static __always_inline u64 recv_name(const struct cn_pending_recv *p, u32 *namecap, u64 *msgvec, u32 *msg)
{
#ifdef __TARGET_ARCH_x86
	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->flags & (PF_KTHREAD | PF_IO_WORKER))
		return 0; /* io_uring workers: not in a receive syscall */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	u64 nr = BPF_CORE_READ(regs, orig_ax);
	if (nr == CN_NR_RECVFROM) {
		/* recvfrom(fd, buf, len, flags, addr, addrlen) */
		u64 addr = BPF_CORE_READ(regs, r8);
		u64 addrlen = BPF_CORE_READ(regs, r9);
		int cap = 0;
		if (!addr || !addrlen || bpf_probe_read_user(&cap, sizeof(cap), (void *)addrlen) || cap <= 0)
			return 0;
		*namecap = cap;
		return addr;
	}
	u64 hdr;
	if (nr == CN_NR_RECVMSG) {
		/* recvmsg(fd, msg, flags) */
		hdr = BPF_CORE_READ(regs, si);
	} else if (nr == CN_NR_RECVMMSG) {
		/* recvmmsg(fd, msgvec, vlen, flags, timeout): this is message p->next of the call */
		u64 vec = BPF_CORE_READ(regs, si);
		u32 vlen = BPF_CORE_READ(regs, dx);
		u32 i = p && p->msgvec == vec ? p->next : 0;
		*msgvec = vec;
		*msg = i;
		if (i >= vlen)
			return 0;
		hdr = vec + (u64)i * sizeof(struct mmsghdr);
	} else {
		return 0;
	}
	struct user_msghdr m;
	if (bpf_probe_read_user(&m, sizeof(m), (void *)hdr) || !m.msg_name || m.msg_namelen <= 0)
		return 0;
	*namecap = m.msg_namelen;
	return (u64)m.msg_name;
#else
	return 0;
#endif
}

/* Account the outstanding datagram of `p` now that its source address is in user memory (`named`:
 * the syscall copied it; false when it failed before the copy). */
static __always_inline void recv_settle(struct cn_pending_recv *p, bool named)
{
	u64 bytes = p->bytes;
	if (!bytes)
		return;
	p->bytes = 0;
	u8 remote[16];
	u16 rport = 0;
	bool known = false;
	if (named && p->msgvec) {
		/* recvmmsg wrote the message's length once the message (and its address) was copied */
		u32 len = 0;
		u64 at = p->msgvec + (u64)p->msg * sizeof(struct mmsghdr) + __builtin_offsetof(struct mmsghdr, msg_len);
		named = !bpf_probe_read_user(&len, sizeof(len), (void *)at) && len == bytes;
	}
	if (named) {
		struct sockaddr_in6 sin6; /* sockaddr_in is a prefix of it: family, port, then the v4 address */
		__builtin_memset(&sin6, 0, sizeof(sin6));
		if (!bpf_probe_read_user(&sin6, p->namecap < sizeof(sin6) ? 8 : sizeof(sin6), (void *)p->name)) {
			if (sin6.sin6_family == AF_INET && p->namecap >= 8) {
				u32 a4;
				__builtin_memcpy(&a4, (u8 *)&sin6 + 4, 4);
				v4_mapped(remote, a4);
				known = true;
			} else if (sin6.sin6_family == AF_INET6 && p->namecap >= sizeof(sin6)) {
				__builtin_memcpy(remote, &sin6.sin6_addr, 16);
				known = true;
			}
			rport = bpf_ntohs(sin6.sin6_port);
		}
	}
	if (!known) {
		__builtin_memcpy(remote, p->peer, 16);
		rport = p->peer_port;
	}
	udp_account(p->saddr, p->sport, p->cookie, p->cgroup_id, p->netns_ino, remote, rport, bytes, CN_DIR_RECV);
}

/* A UDP receive of `ret` bytes (sock_recv_length, not MSG_PEEK). */
static __always_inline void udp_recv(struct sock *sk, int ret)
{
	u64 id = bpf_get_current_pid_tgid();
	struct cn_pending_recv *p = NULL;
	u64 name = 0, msgvec = 0;
	u32 namecap = 0, msg = 0;
	if (recv_names_on()) {
		p = bpf_map_lookup_elem(&cnetwork_pending_recv, &id);
		if (p)
			recv_settle(p, true); /* the previous message of this recvmmsg */
		name = recv_name(p, &namecap, &msgvec, &msg);
		if (msgvec || (name && ret > 0)) {
			/* recvmmsg: every message, empty, failed and unnamed ones too, takes its slot */
			if (!p) {
				struct cn_pending_recv init = {};
				bpf_map_update_elem(&cnetwork_pending_recv, &id, &init, BPF_ANY);
				p = bpf_map_lookup_elem(&cnetwork_pending_recv, &id);
			}
			if (p) {
				p->msgvec = msgvec;
				p->next = msg + 1;
			}
		}
	}
	if (ret <= 0)
		return;
	struct cn_udp_sock u;
	udp_sock(sk, &u);
	if (!name || !p) {
		/* no address asked for (recv/read, io_uring): the socket's peer, unspecified if unconnected */
		udp_account(u.saddr, u.sport, u.cookie, u.cgroup_id, u.netns_ino, u.peer, u.peer_port, ret, CN_DIR_RECV);
		return;
	}
	p->cookie = u.cookie;
	p->cgroup_id = u.cgroup_id;
	p->netns_ino = u.netns_ino;
	__builtin_memcpy(p->saddr, u.saddr, 16);
	__builtin_memcpy(p->peer, u.peer, 16);
	p->sport = u.sport;
	p->peer_port = u.peer_port;
	p->name = name;
	p->namecap = namecap;
	p->msg = msg;
	p->bytes = ret;
}

/* sys_exit of recvfrom/recvmsg/recvmmsg: the last datagram's address has been copied (if ret >= 0). */
static __always_inline void recv_exit(long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	struct cn_pending_recv *p = bpf_map_lookup_elem(&cnetwork_pending_recv, &id);
	if (!p)
		return;
	recv_settle(p, ret >= 0);
	bpf_map_delete_elem(&cnetwork_pending_recv, &id);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int cn_sys_exit_recvfrom(struct trace_event_raw_sys_exit *ctx)
{
	recv_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int cn_sys_exit_recvmsg(struct trace_event_raw_sys_exit *ctx)
{
	recv_exit(ctx->ret);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int cn_sys_exit_recvmmsg(struct trace_event_raw_sys_exit *ctx)
{
	recv_exit(ctx->ret);
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* tp variant */

/* A send or receive that moved `ret` bytes, in the calling process's context. */
static __always_inline void on_io(struct sock *sk, int ret, int flags, u8 direction)
{
	if (!sk)
		return;
	if (direction == CN_DIR_RECV && (flags & MSG_PEEK))
		return; /* the data stays queued and is counted when really read */
	/* is_container_sock() etc. with direct loads: this runs on every send and receive */
	if (!include_host && sk->__sk_common.skc_net.net->ns.inum == host_netns_ino)
		return;
	u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return;
	u16 proto = sk->sk_protocol;
	if (proto == CN_PROTO_UDP) {
		if (direction == CN_DIR_SEND)
			udp_send(sk, ret);
		else
			udp_recv(sk, ret);
		return;
	}
	if (proto != CN_PROTO_TCP || ret <= 0)
		return;
	banned_check(sk, ret, direction);

	struct cn_flow_key key = {};
	key.sock = bpf_get_socket_cookie(sk);
	key.proto = CN_PROTO_TCP;
	struct cn_flow *f = flow_entry(&cnetwork_tcp_flows, &key, sk, CN_PROTO_TCP, true, CN_DROP_TCP_FLOW_FULL);
	if (!f)
		return;
	if (f->owner.tgid == 0) {
		/* created in softirq context (accepted child); now we know the process */
		struct bw_event_header h;
		fill_owner(&h, sk);
		f->owner = h;
	}
	if (direction == CN_DIR_SEND) {
		__sync_fetch_and_add(&f->bytes_sent, ret);
		__sync_fetch_and_add(&f->sends, 1);
	} else {
		__sync_fetch_and_add(&f->bytes_recv, ret);
		__sync_fetch_and_add(&f->recvs, 1);
	}
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(cn_sock_send_length, struct sock *sk, int ret, int flags)
{
	on_io(sk, ret, flags, CN_DIR_SEND);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(cn_sock_recv_length, struct sock *sk, int ret, int flags)
{
	on_io(sk, ret, flags, CN_DIR_RECV);
	return 0;
}

static __always_inline void emit_conn(u16 type, const struct bw_event_header *owner, const struct sock *sk, bool listen)
{
	struct cn_conn_record *r = BW_RESERVE(cnetwork_events, cnetwork_events_lost, sizeof(*r));
	if (!r)
		return;
	r->hdr = *owner;
	r->hdr.ts_ns = bpf_ktime_get_ns();
	r->hdr.type = type;
	sock_tuple(sk, r->saddr, r->daddr, &r->sport, &r->dport);
	if (listen) {
		__builtin_memset(r->daddr, 0, 16);
		r->dport = 0;
	}
	r->proto = CN_PROTO_TCP;
	__builtin_memset(r->_pad, 0, sizeof(r->_pad));
	BW_SUBMIT(cnetwork_events, r);
}

/* A destroyed TCP socket's flow leaves the map at once and its final counters travel as a record:
 * under connection churn the map then holds the live sockets, not every socket closed since the
 * last drain (which filled it at a few thousand connections per second). If the ring is full the
 * entry stays, marked ended, and the periodic drain reports and deletes it: nothing is lost. */
SEC("tp_btf/tcp_destroy_sock")
int BPF_PROG(cn_tcp_destroy_sock, struct sock *sk)
{
	struct cn_flow_key key = {};
	key.sock = bpf_get_socket_cookie(sk);
	key.proto = CN_PROTO_TCP;
	struct cn_flow *f = bpf_map_lookup_elem(&cnetwork_tcp_flows, &key);
	if (!f)
		return 0; /* a listener, a socket of the host, or one that never connected */
	struct cn_flow_end_record *r = bpf_ringbuf_reserve(&cnetwork_events, sizeof(*r), 0);
	if (!r) {
		f->ended = 1;
		return 0;
	}
	r->hdr = f->owner;
	r->hdr.ts_ns = bpf_ktime_get_ns();
	r->hdr.type = CN_REC_FLOW_END;
	r->key = key;
	r->flow = *f;
	BW_SUBMIT(cnetwork_events, r);
	bpf_map_delete_elem(&cnetwork_tcp_flows, &key);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(cn_inet_sock_set_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (BPF_CORE_READ(sk, sk_protocol) != CN_PROTO_TCP || !is_container_sock(sk))
		return 0;
	struct bw_event_header owner;

	if (newstate == TCP_LISTEN) {
		/* listen(): syscall context, the current task is the listener */
		struct cn_listener_key lk = { .netns_ino = sock_netns_ino(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num) };
		fill_owner(&owner, sk);
		if (bpf_map_update_elem(&cnetwork_listeners, &lk, &owner, BPF_ANY))
			count_drop(CN_DROP_LISTENER_FULL);
		emit_conn(CN_REC_LISTEN, &owner, sk, true);
		return 0;
	}
	if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		/* the listener closes (a child cloned from it also starts with oldstate LISTEN) */
		struct cn_listener_key lk = { .netns_ino = sock_netns_ino(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num) };
		bpf_map_delete_elem(&cnetwork_listeners, &lk);
		return 0;
	}

	struct cn_flow_key key = {};
	key.sock = bpf_get_socket_cookie((void *)sk);
	key.proto = CN_PROTO_TCP;
	struct cn_flow *f;

	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		/* accepted child, softirq context: the process is the listener's */
		struct cn_listener_key lk = { .netns_ino = sock_netns_ino(sk), .port = BPF_CORE_READ(sk, __sk_common.skc_num) };
		struct bw_event_header *lo = bpf_map_lookup_elem(&cnetwork_listeners, &lk);
		if (lo) {
			owner = *lo;
			owner.cgroup_id = sock_cgroup_id(sk);
		} else {
			fill_anonymous(&owner, sk);
		}
		emit_conn(CN_REC_ACCEPT, &owner, sk, false);
		f = bpf_map_lookup_elem(&cnetwork_tcp_flows, &key);
		if (!f) {
			struct cn_flow init = {};
			init.owner = owner;
			sock_tuple(sk, init.saddr, init.daddr, &init.sport, &init.dport);
			init.proto = CN_PROTO_TCP;
			long err = bpf_map_update_elem(&cnetwork_tcp_flows, &key, &init, BPF_NOEXIST);
			if (err && err != -17)
				count_drop(CN_DROP_TCP_FLOW_FULL);
			f = bpf_map_lookup_elem(&cnetwork_tcp_flows, &key);
		}
	} else {
		/* CLOSE → SYN_SENT is connect() in syscall context; anything else may be softirq */
		bool syscall_ctx = oldstate == TCP_CLOSE && newstate == TCP_SYN_SENT;
		f = flow_entry(&cnetwork_tcp_flows, &key, sk, CN_PROTO_TCP, syscall_ctx, CN_DROP_TCP_FLOW_FULL);
		if (oldstate == TCP_SYN_SENT && newstate == TCP_ESTABLISHED) {
			/* softirq: the connecting process is the flow's owner; with the flow map full
			 * the connection is still reported, with the socket's cgroup only */
			if (f)
				owner = f->owner;
			else
				fill_anonymous(&owner, sk);
			emit_conn(CN_REC_CONNECT, &owner, sk, false);
		}
	}
	if (!f)
		return 0;
	if (newstate != TCP_SYN_SENT && newstate != TCP_CLOSE) {
		/* the tuple is complete once connected (connect() binds the local address late) */
		sock_tuple(sk, f->saddr, f->daddr, &f->sport, &f->dport);
	}
	f->state = newstate;
	f->states_seen |= (u16)(1u << (newstate & 15));
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* kprobe variant (the seed's hooks): banned pairs only, skb-level byte counts */

SEC("kprobe/__tcp_transmit_skb")
int BPF_KPROBE(cn_kp_tcp_transmit_skb, struct sock *sk, struct sk_buff *skb)
{
	if (!is_container_sock(sk))
		return 0;
	u32 len = BPF_CORE_READ(skb, len);
	if (len == 0)
		return 0; /* pure ACK / control segment */
	banned_check(sk, len, CN_DIR_SEND);
	return 0;
}

SEC("kprobe/tcp_v4_do_rcv")
int BPF_KPROBE(cn_kp_tcp_v4_do_rcv, struct sock *sk, struct sk_buff *skb)
{
	if (!is_container_sock(sk))
		return 0;
	u32 len = BPF_CORE_READ(skb, len);
	struct tcphdr *th = (struct tcphdr *)(BPF_CORE_READ(skb, head) + BPF_CORE_READ(skb, transport_header));
	u16 doff = 0;
	u8 flags12 = 0;
	/* doff is the high nibble of byte 12 of the TCP header */
	bpf_probe_read_kernel(&flags12, 1, (u8 *)th + 12);
	doff = (flags12 >> 4) * 4;
	if (len <= doff)
		return 0;
	banned_check(sk, len - doff, CN_DIR_RECV);
	return 0;
}
