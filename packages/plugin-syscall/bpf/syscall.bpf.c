// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * boxwatch syscall plugin, kernel side.
 *
 * sys_enter (attached to tp_btf/sys_enter), in this order, cheapest rejection first:
 *   1. host-task early exit (pid-namespace level 0) unless host_processes;
 *   2. watched-cgroup filter (hash of cgroup ids), only when filter_cgroups;
 *   3. per-(cgroup, tgid, syscall) counter;
 *   4. sequence mode (opt-in): append the id to the thread's buffer, flush 64 ids per record;
 *      or kernel sequence filtering (opt-in, docs/stide-kernel.md): roll the thread's n-gram key,
 *      count it per profile (learn) or look it up in the profile's known set and emit only misses;
 *   5. tail call into detail_progs[syscall id] when detail_kind[id] says the syscall is wanted.
 * Detail programs (tail-call targets, never attached) capture the arguments at entry into a
 * per-thread pending map; sys_exit adds the return value and moves the record to the ring buffer,
 * so every detail event carries both the attempt and its outcome.
 *
 * Process lifecycle: sched_process_exec / fork / exit.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"
#include "syscall.h"

#ifndef __TARGET_ARCH_x86
/* Argument registers and the syscall number below are x86_64's; arm64 needs its own accessors
 * (regs[0..5] / syscallno) and an arm64 vmlinux.h. */
#error "syscall.bpf.c supports __TARGET_ARCH_x86 only for now"
#endif

/* Syscall ids index the detail tables; both x86_64 (< 470) and arm64 (< 470) fit. */
#define SC_MAX_SYSCALL 512

/* detail_kind[] values: which pending map sys_exit looks in. */
#define SC_KIND_NONE 0
#define SC_KIND_DETAIL 1
#define SC_KIND_EXEC 2

BW_EXPORT_STRUCT(sc_detail_record);
BW_EXPORT_STRUCT(sc_exec_record);
BW_EXPORT_STRUCT(sc_proc_exec_record);
BW_EXPORT_STRUCT(sc_proc_fork_record);
BW_EXPORT_STRUCT(sc_proc_exit_record);
BW_EXPORT_STRUCT(sc_seq_record);
BW_EXPORT_STRUCT(sc_kseq_record);
BW_EXPORT_STRUCT(sc_kseq_key);
BW_EXPORT_STRUCT(sc_kseq_counter);
BW_EXPORT_STRUCT(sc_watch_value);
BW_EXPORT_STRUCT(sc_count_key);
BW_EXPORT_STRUCT(sc_count_value);

/* Load-time configuration (rodata: the verifier prunes disabled branches). */
const volatile bool host_processes = false;
const volatile bool filter_cgroups = false;
const volatile bool sequence_mode = false;
const volatile bool process_events = true;
/* process.exec's exe path: a bpf_loop walk (Linux 5.17+); off where the kernel has no bpf_loop,
 * and the program then never reaches the call (the verifier skips dead branches of a constant). */
const volatile bool exe_paths = false;
/* Kernel sequence filtering (needs filter_cgroups: the profile travels in the watched map). */
const volatile bool kseq_enabled = false;
/* n-gram length, 1..5 (SC_KSEQ_ID_BITS * n bits of key). */
const volatile u32 kseq_n = 5;
/* Sequence mode: a partly filled per-thread buffer is flushed at the thread's first syscall after
 * its oldest id is this old. */
const volatile u64 seq_max_age_ns = 1000000000ULL;
/* Per syscall id: SC_KIND_*; set from the `detail` option before load. The tail-call table
 * detail_progs is filled after load for exactly these ids. */
const volatile u8 detail_kind[SC_MAX_SYSCALL] = {};

BW_RINGBUF(events, 2 * 1024 * 1024);

/* Watched containers' cgroup ids. Only consulted when filter_cgroups. The value carries the
 * container's sequence profile, so kernel sequence filtering costs no extra cgroup lookup. */
#define SC_KSEQ_SLOTS 4096
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SC_KSEQ_SLOTS);
	__type(key, u64);
	__type(value, struct sc_watch_value);
} watched SEC(".maps");

/* Kernel sequence filtering, per thread: the rolling packed key of its last n ids, how many ids
 * it has made (up to n), and the matching n-grams since its last mismatch record. Task storage:
 * freed with the task, no exit hook, and the lookup is a pointer chase from the task. */
struct sc_kseq_task {
	u64 key;
	u64 gap;
	u32 filled;
	u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sc_kseq_task);
} kseq_tasks SEC(".maps");

/* Known n-grams of every profile (value unused), filled by userspace from the learned model.
 * Sized by userspace (kernelSequence.maxKnownNgrams). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sc_kseq_key);
	__type(value, u8);
} kseq_known SEC(".maps");

/* Learn mode: n-gram counts per profile, per CPU (no atomics on the hot path), drained by
 * userspace with lookup-and-delete batches. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sc_kseq_key);
	__type(value, u64);
} kseq_learn SEC(".maps");

/* Per watched container (slot from the watched map), per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_KSEQ_SLOTS);
	__type(key, u32);
	__type(value, struct sc_kseq_counter);
} kseq_counters SEC(".maps");

/*
 * The counters. Why LRU_PERCPU_HASH drained with BPF_MAP_LOOKUP_AND_DELETE_BATCH:
 *  - per-CPU values make the hot-path increment a plain add with no atomic and no cache-line
 *    bouncing between CPUs (a syscall-heavy container hits one key from every CPU it runs on);
 *  - LRU bounds memory: a fork bomb of short-lived pids evicts the oldest keys instead of failing
 *    inserts (userspace sizes the map, default 16384 keys);
 *  - userspace drains with lookup-and-delete batch: each entry is copied out and removed in one
 *    kernel step under the bucket lock, so counts that arrive during the drain land either in
 *    this batch or in a fresh entry for the next one. The only window is an increment that
 *    already holds a pointer to an entry as it is deleted on another CPU: at most one count per
 *    (key, CPU) per drain, far below the 1% the tests allow. Two swapped maps would have the same
 *    window (a program that read the old index) plus an extra array lookup per syscall.
 * The key holds the tgid, so a process that exits between drains is still reported; its comm is
 * kept in the value (captured when a CPU's slot is first used).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sc_count_key);
	__type(value, struct sc_count_value);
} counts SEC(".maps");

/* Command name of each process as of its last exec, for syscall.count events: the comm in a
 * counter slot is the one at the slot's first syscall, which for a process that then exec'd is
 * the old image's (e.g. `runc:[2:INIT]` for every `docker exec`). Written only at exec (rare), read
 * by userspace at drain time; LRU so exited processes age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, char[BW_COMM_LEN]);
} proc_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SC_MAX_SYSCALL);
	__type(key, u32);
	__type(value, u32);
} detail_progs SEC(".maps");

/* The same, for sys_exit programs (syscalls denied before sys_enter, see exit_detail_*). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SC_MAX_SYSCALL);
	__type(key, u32);
	__type(value, u32);
} exit_detail_progs SEC(".maps");

/* Arguments captured at entry, per thread, until sys_exit adds ret. LRU: a thread killed inside
 * a detail syscall never reaches sys_exit; its entry ages out instead of leaking. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u32);
	__type(value, struct sc_detail_record);
} pending_detail SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2048);
	__type(key, u32);
	__type(value, struct sc_exec_record);
} pending_exec SEC(".maps");

/* Records are too big for the 512-byte stack: built in per-CPU scratch, then copied. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct sc_detail_record);
} scratch_detail SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct sc_exec_record);
} scratch_exec SEC(".maps");

/* Working memory of the exe path walk (written back to front; boxwatch/path-walk.h). */
struct exe_walk_buf {
	char walk[SC_STR_LEN + 256];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct exe_walk_buf);
} exe_walk SEC(".maps");

#define BW_PATH_MAX SC_STR_LEN
static __always_inline char *bw_path_buf(void)
{
	u32 zero = 0;
	struct exe_walk_buf *b = bpf_map_lookup_elem(&exe_walk, &zero);
	return b ? b->walk : NULL;
}
#include "boxwatch/path-walk.h"

/* Sequence mode: the ids of each thread not yet flushed. A plain hash without preallocation
 * (entries are RCU-freed, so a program still writing into an entry being deleted never writes
 * into another thread's reused entry); entries are deleted when the thread exits. */
struct sc_seq_buf {
	u64 first_ns; /* when ids[0] was appended */
	u32 count;
	u32 _pad;
	u16 ids[SC_SEQ_N];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, u32);
	__type(value, struct sc_seq_buf);
} seq_bufs SEC(".maps");

/* Drops that are not ring-buffer reserve failures, by reason (index SC_DROP_*). */
#define SC_DROP_PENDING_FULL 0 /* pending map update failed */
#define SC_DROP_SEQ_BUF 1      /* sequence buffer could not be created (map full) */
#define SC_DROP_COUNT_INSERT 2 /* counter insert failed */
#define SC_DROP_MAX 3
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SC_DROP_MAX);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

static __always_inline void count_drop(u32 reason)
{
	u64 *c = bpf_map_lookup_elem(&drops, &reason);
	if (c)
		(*c)++;
}

/*
 * Host-task test for the hot paths. Same answer as core's bw_is_container_task() (the level of
 * the pid namespace of the task's own pid), but read with direct BTF-pointer loads instead of
 * BPF_CORE_READ's bpf_probe_read_kernel() helper calls: this test runs on every syscall of every
 * process on the machine, container or not, twice (enter and exit), so the saving counts.
 * The loads are CO-RE relocated (vmlinux.h types carry preserve_access_index) and fault-safe
 * (the verifier turns loads through untrusted BTF pointers into exception-table loads).
 */
static __always_inline bool in_container(struct task_struct *task)
{
	struct pid *pid = task->thread_pid;
	return pid && pid->level > 0;
}

/* The same gate for every program: host tasks out first, then the watched-cgroup filter. */
static __always_inline bool wanted(struct task_struct *task)
{
	if (!host_processes && !in_container(task))
		return false;
	if (filter_cgroups) {
		u64 cgid = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&watched, &cgid))
			return false;
	}
	return true;
}

/*
 * Kernel sequence filtering: one step per syscall of a watched thread. Learn mode counts the
 * thread's current n-gram for its profile; detect mode looks it up in the profile's known set and,
 * only when it is not there, writes a record with the n ids and the number of matching n-grams the
 * thread made since its previous record (`gap`), which lets userspace rebuild the thread's exact
 * match/mismatch sequence for the STIDE window.
 */
static __always_inline void kseq_step(struct task_struct *task, struct sc_watch_value *w, u32 id)
{
	struct sc_kseq_task *st = bpf_task_storage_get(&kseq_tasks, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	u64 mask = (1ULL << (SC_KSEQ_ID_BITS * kseq_n)) - 1;
	u64 key = ((st->key << SC_KSEQ_ID_BITS) | id) & mask;
	st->key = key;
	if (st->filled < kseq_n) {
		st->filled++;
		if (st->filled < kseq_n)
			return;
	}
	u32 mode = w->mode;
	if (mode == SC_KSEQ_OFF)
		return;
	u32 slot = w->slot;
	struct sc_kseq_counter *c = bpf_map_lookup_elem(&kseq_counters, &slot);
	struct sc_kseq_key k = { .ngram = key, .profile = w->profile, ._pad = 0 };
	if (mode == SC_KSEQ_LEARN) {
		u64 *cnt = bpf_map_lookup_elem(&kseq_learn, &k);
		if (!cnt) {
			u64 one = 1;
			if (bpf_map_update_elem(&kseq_learn, &k, &one, BPF_NOEXIST) == 0)
				goto learned;
			cnt = bpf_map_lookup_elem(&kseq_learn, &k); /* inserted meanwhile, or full */
			if (!cnt) {
				if (c)
					c->dropped++;
				return;
			}
		}
		(*cnt)++;
learned:
		if (c)
			c->learned++;
		return;
	}
	if (bpf_map_lookup_elem(&kseq_known, &k)) {
		st->gap++;
		if (c)
			c->matches++;
		return;
	}
	if (c)
		c->mismatches++;
	struct sc_kseq_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r) {
		/* Lost: userspace will see this n-gram as one more matching one in the next gap. */
		st->gap++;
		if (c)
			c->dropped++;
		return;
	}
	bw_fill_header_btf(&r->hdr, SC_REC_KSEQ, task);
	r->ngram = key;
	r->gap = st->gap;
	r->profile = w->profile;
	r->n = kseq_n;
#pragma unroll
	for (int i = 0; i < SC_KSEQ_MAX_N; i++)
		r->ids[i] = i < kseq_n ? (u16)((key >> (SC_KSEQ_ID_BITS * (kseq_n - 1 - i))) & ((1 << SC_KSEQ_ID_BITS) - 1)) : 0;
	st->gap = 0;
	BW_SUBMIT(events, r);
}

static __always_inline void count_syscall(u64 cgroup_id, u32 tgid, u32 id)
{
	struct sc_count_key key = { .cgroup_id = cgroup_id, .tgid = tgid, .syscall = id };
	struct sc_count_value *v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		if (v->count == 0) /* entry created on another CPU: this CPU's slot is fresh */
			bpf_get_current_comm(v->comm, sizeof(v->comm));
		v->count++;
		return;
	}
	struct sc_count_value init = { .count = 1 };
	bpf_get_current_comm(init.comm, sizeof(init.comm));
	if (bpf_map_update_elem(&counts, &key, &init, BPF_NOEXIST) == 0)
		return;
	/* Another CPU inserted the key between our lookup and update. */
	v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		if (v->count == 0)
			bpf_get_current_comm(v->comm, sizeof(v->comm));
		v->count++;
	} else {
		count_drop(SC_DROP_COUNT_INSERT);
	}
}

static __always_inline void seq_flush(struct task_struct *task, struct sc_seq_buf *b, u32 n)
{
	struct sc_seq_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return;
	bw_fill_header_btf(&r->hdr, SC_REC_SEQ, task);
	r->count = n;
	r->_pad = 0;
	__builtin_memcpy(r->ids, b->ids, sizeof(r->ids));
	BW_SUBMIT(events, r);
}

static __always_inline void seq_append(struct task_struct *task, u32 tid, u32 id)
{
	struct sc_seq_buf *b = bpf_map_lookup_elem(&seq_bufs, &tid);
	if (!b) {
		struct sc_seq_buf init = { .count = 1, .first_ns = bpf_ktime_get_ns() };
		init.ids[0] = (u16)id;
		if (bpf_map_update_elem(&seq_bufs, &tid, &init, BPF_NOEXIST) != 0)
			count_drop(SC_DROP_SEQ_BUF);
		return;
	}
	/* count is always < SC_SEQ_N (reset to 0 on flush); the mask (SC_SEQ_N is 2^k) is what lets
	 * the verifier see the index is in bounds. */
	u32 n = b->count & (SC_SEQ_N - 1);
	u64 now = bpf_ktime_get_ns();
	if (n == 0)
		b->first_ns = now;
	b->ids[n] = (u16)id;
	n++;
	/* Flush when full, or when the oldest id is older than seq_max_age_ns, so a thread that
	 * makes few syscalls still reports them within about that time (at its next syscall). */
	if (n == SC_SEQ_N || now - b->first_ns > seq_max_age_ns) {
		seq_flush(task, b, n);
		n = 0;
	}
	b->count = n;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	/* 1. Host tasks leave here: the cost on unwatched processes is this test alone. */
	if (!host_processes && !in_container(task))
		return 0;
	u64 cgid = bpf_get_current_cgroup_id();
	/* 2. Watched containers only, when a list was given. */
	struct sc_watch_value *w = NULL;
	if (filter_cgroups) {
		w = bpf_map_lookup_elem(&watched, &cgid);
		if (!w)
			return 0;
	}
	if (id < 0 || id >= SC_MAX_SYSCALL)
		return 0;
	u64 pid_tgid = bpf_get_current_pid_tgid();
	/* 3. Counters. */
	count_syscall(cgid, pid_tgid >> 32, (u32)id);
	/* 4. Sequence mode. */
	if (sequence_mode)
		seq_append(task, (u32)pid_tgid, (u32)id);
	else if (kseq_enabled && w)
		kseq_step(task, w, (u32)id);
	/* 5. Detail events: no-op when the slot is empty. */
	if (detail_kind[id] != SC_KIND_NONE)
		bpf_tail_call(ctx, &detail_progs, (u32)id);
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * Detail programs: tail-call targets of sys_enter, one per argument shape.
 * ---------------------------------------------------------------------------------------- */

static __always_inline void read_args(struct pt_regs *regs, u64 *a)
{
	/* x86_64 syscall convention: rdi, rsi, rdx, r10, r8, r9. */
	a[0] = BPF_CORE_READ(regs, di);
	a[1] = BPF_CORE_READ(regs, si);
	a[2] = BPF_CORE_READ(regs, dx);
	a[3] = BPF_CORE_READ(regs, r10);
	a[4] = BPF_CORE_READ(regs, r8);
	a[5] = BPF_CORE_READ(regs, r9);
}

/* Read a user string; flag truncation when it filled the buffer. */
#define READ_USER_STR(dst, src, flag, flags)                                                        \
	do {                                                                                        \
		long __n = bpf_probe_read_user_str(dst, sizeof(dst), (const void *)(src));          \
		if (__n < 0)                                                                        \
			(dst)[0] = 0;                                                               \
		else if (__n >= (long)sizeof(dst))                                                  \
			flags |= (flag);                                                            \
	} while (0)

/* What a detail program captures besides strings (constants after inlining). */
#define SC_CAP_NONE 0
#define SC_CAP_FD0_KIND 1  /* is argument 0 (a descriptor) a socket? -> SC_F_FD0_SOCKET, family in str2 */
#define SC_CAP_SOCKADDR1 2 /* argument 1 is a sockaddr, argument 2 its length -> str2, raw */

#define SC_S_IFMT 00170000
#define SC_S_IFSOCK 0140000

/* The address family of descriptor fd of the current task when it is a socket, else 0. Reads
 * task->files->fdt->fd[fd] (bounds-checked against max_fds), its inode's mode and, for a socket,
 * file->private_data (struct socket) ->sk->skc_family; 0 also when a step cannot be read. */
static __always_inline u16 fd_socket_family(u64 fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) != 0 || !f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & SC_S_IFMT) != SC_S_IFSOCK)
		return 0;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	u16 family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
	/* AF_UNSPEC would read as "not a socket": report a socket whose family is unreadable as such
	 * through the flag alone (family 0xffff). */
	return family ? family : 0xffff;
}

/* Fill a detail record from the syscall's registers. s0/s1/s2: argument index of each captured
 * string, -1 for none; cap: SC_CAP_* (constants after inlining). */
static __always_inline void fill_detail(struct sc_detail_record *r, struct pt_regs *regs, long id, int s0, int s1, int s2, int cap)
{
	bw_fill_header_btf(&r->hdr, SC_REC_DETAIL, bpf_get_current_task_btf());
	read_args(regs, r->args);
	r->ret = 0;
	r->syscall = (u32)id;
	u32 flags = 0;
	r->str0[0] = 0;
	r->str1[0] = 0;
	r->str2[0] = 0;
	if (s0 >= 0)
		READ_USER_STR(r->str0, r->args[s0], SC_F_STR0_TRUNC, flags);
	if (s1 >= 0)
		READ_USER_STR(r->str1, r->args[s1], SC_F_STR1_TRUNC, flags);
	if (s2 >= 0)
		READ_USER_STR(r->str2, r->args[s2], SC_F_STR2_TRUNC, flags);
	if (cap == SC_CAP_FD0_KIND) {
		u16 family = fd_socket_family(r->args[0]);
		if (family) {
			flags |= SC_F_FD0_SOCKET;
			__builtin_memcpy(r->str2, &family, sizeof(family));
		}
	}
	if (cap == SC_CAP_SOCKADDR1) {
		/* Only the bytes the caller said are there (a short sockaddr at the end of a page must
		 * not make the read fail); the rest stays zero. */
		u64 n = r->args[2];
		__builtin_memset(r->str2, 0, SC_SOCKADDR_LEN);
		if (n > SC_SOCKADDR_LEN)
			n = SC_SOCKADDR_LEN;
		if (n > 0 && bpf_probe_read_user(r->str2, n, (const void *)r->args[1]) != 0)
			r->str2[0] = 0, r->str2[1] = 0; /* family 0: unread */
	}
	r->flags = flags;
}

/* Fill an exec record: filename and the first SC_ARGV_N argv entries, each bounded. */
static __always_inline void fill_exec(struct sc_exec_record *r, struct pt_regs *regs, long id, int file_arg, int argv_arg)
{
	bw_fill_header_btf(&r->hdr, SC_REC_EXEC, bpf_get_current_task_btf());
	read_args(regs, r->args);
	r->ret = 0;
	r->syscall = (u32)id;
	r->_pad = 0;
	u32 flags = 0;
	READ_USER_STR(r->filename, r->args[file_arg], SC_F_STR0_TRUNC, flags);
	const char *const *argv = (const char *const *)r->args[argv_arg];
	u32 argc = 0;
#pragma unroll
	for (int i = 0; i < SC_ARGV_N; i++) {
		const char *p = NULL;
		if (bpf_probe_read_user(&p, sizeof(p), &argv[i]) != 0 || !p)
			goto done;
		if (bpf_probe_read_user_str(r->argv[i], SC_ARG_LEN, p) < 0)
			r->argv[i][0] = 0;
		argc = i + 1;
	}
	{
		const char *more = NULL;
		if (bpf_probe_read_user(&more, sizeof(more), &argv[SC_ARGV_N]) == 0 && more)
			flags |= SC_F_ARGV_MORE;
	}
done:
	r->argc = argc;
	r->flags = flags;
}

/* At entry: capture into the thread's pending slot; sys_exit adds ret and emits it. */
static __always_inline int pend_detail(struct pt_regs *regs, long id, int s0, int s1, int s2, int cap)
{
	u32 zero = 0;
	struct sc_detail_record *r = bpf_map_lookup_elem(&scratch_detail, &zero);
	if (!r)
		return 0;
	fill_detail(r, regs, id, s0, s1, s2, cap);
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending_detail, &tid, r, BPF_ANY) != 0)
		count_drop(SC_DROP_PENDING_FULL);
	return 0;
}

static __always_inline int pend_exec(struct pt_regs *regs, long id, int file_arg, int argv_arg)
{
	u32 zero = 0;
	struct sc_exec_record *r = bpf_map_lookup_elem(&scratch_exec, &zero);
	if (!r)
		return 0;
	fill_exec(r, regs, id, file_arg, argv_arg);
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending_exec, &tid, r, BPF_ANY) != 0)
		count_drop(SC_DROP_PENDING_FULL);
	return 0;
}

/* unshare, setns, ptrace, init_module, finit_module, fchmod, set*id, bpf, kill, tgkill, socket,
 * ftruncate */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_args, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, -1, -1, -1, SC_CAP_NONE);
}

/* mkdir, chmod, umount2, delete_module, memfd_create, unlink, truncate: string at argument 0 */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_str_arg0, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, 0, -1, -1, SC_CAP_NONE);
}

/* mkdirat, fchmodat, unlinkat: path at argument 1 */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_str_arg1, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, 1, -1, -1, SC_CAP_NONE);
}

/* link, symlink, rename: paths at arguments 0 and 1 */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_str_arg01, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, 0, 1, -1, SC_CAP_NONE);
}

/* symlinkat(target, newdirfd, linkpath): paths at arguments 0 and 2 */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_str_arg02, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, 0, 2, -1, SC_CAP_NONE);
}

/* linkat, renameat, renameat2 (olddirfd, oldpath, newdirfd, newpath, ...): arguments 1 and 3 */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_str_arg13, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, 1, 3, -1, SC_CAP_NONE);
}

/* dup2, dup3: whether the descriptor duplicated (argument 0) is a socket, and its family (reverse
 * shells put a TCP socket on 0/1/2) */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_fd_kind, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, -1, -1, -1, SC_CAP_FD0_KIND);
}

/* connect(fd, addr, addrlen): the destination address */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_sockaddr, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, -1, -1, -1, SC_CAP_SOCKADDR1);
}

/* mount(source, target, fstype, flags, data) */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_mount, struct pt_regs *regs, long id)
{
	return pend_detail(regs, id, 0, 1, 2, SC_CAP_NONE);
}

/* execve(filename, argv, envp) */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_execve, struct pt_regs *regs, long id)
{
	return pend_exec(regs, id, 0, 1);
}

/* execveat(dirfd, filename, argv, envp, flags) */
SEC("tp_btf/sys_enter")
int BPF_PROG(detail_execveat, struct pt_regs *regs, long id)
{
	return pend_exec(regs, id, 1, 2);
}

/* ------------------------------------------------------------------------------------------
 * Syscalls that never reached sys_enter. The kernel runs seccomp BEFORE the sys_enter
 * tracepoint (syscall_trace_enter), so a syscall a seccomp profile denies (Docker's default
 * profile denies mount, unshare, ptrace, bpf, *_module, ... to unprivileged containers) is never
 * seen at entry, but sys_exit still fires with its errno. sys_exit finds no pending entry for a
 * detail syscall and tail-calls these: the arguments are still in the registers and, since the
 * syscall did not run, the user memory the strings live in is unchanged. The record is flagged
 * SC_F_BLOCKED. (Tail calls need their own table: a PROG_ARRAY only holds programs of the hook its
 * first user is attached to.)
 * ---------------------------------------------------------------------------------------- */

static __always_inline int emit_detail_at_exit(struct pt_regs *regs, long ret, int s0, int s1, int s2, int cap)
{
	struct sc_detail_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	long id = BPF_CORE_READ(regs, orig_ax);
	fill_detail(r, regs, id, s0, s1, s2, cap);
	r->ret = ret;
	r->flags |= SC_F_BLOCKED;
	BW_SUBMIT(events, r);
	return 0;
}

static __always_inline int emit_exec_at_exit(struct pt_regs *regs, long ret, int file_arg, int argv_arg)
{
	struct sc_exec_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	long id = BPF_CORE_READ(regs, orig_ax);
	fill_exec(r, regs, id, file_arg, argv_arg);
	r->ret = ret;
	r->flags |= SC_F_BLOCKED;
	BW_SUBMIT(events, r);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_args, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, -1, -1, -1, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_str_arg0, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, 0, -1, -1, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_str_arg1, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, 1, -1, -1, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_str_arg01, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, 0, 1, -1, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_str_arg02, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, 0, 2, -1, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_str_arg13, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, 1, 3, -1, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_fd_kind, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, -1, -1, -1, SC_CAP_FD0_KIND);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_sockaddr, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, -1, -1, -1, SC_CAP_SOCKADDR1);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_mount, struct pt_regs *regs, long ret)
{
	return emit_detail_at_exit(regs, ret, 0, 1, 2, SC_CAP_NONE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_execve, struct pt_regs *regs, long ret)
{
	return emit_exec_at_exit(regs, ret, 0, 1);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_detail_execveat, struct pt_regs *regs, long ret)
{
	return emit_exec_at_exit(regs, ret, 1, 2);
}

/* ------------------------------------------------------------------------------------------
 * sys_exit: the return value of a pending detail syscall.
 * ---------------------------------------------------------------------------------------- */

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	/* Most syscalls have no detail program: decide that first, from the syscall number alone
	 * (one register load and one rodata load), before even the host-task test. */
	long id = regs->orig_ax;
	if (id < 0 || id >= SC_MAX_SYSCALL)
		return 0;
	u8 kind = detail_kind[id];
	if (kind == SC_KIND_NONE)
		return 0;
	if (!host_processes && !in_container(bpf_get_current_task_btf()))
		return 0;
	/* No watched-cgroup test needed when a pending entry exists: those exist only for watched
	 * tasks. A successful
	 * execve returns here in the new image, with the same tid (sched_process_exec moved the entry
	 * if a non-leader thread exec'd and took the leader's tid). */
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (kind == SC_KIND_EXEC) {
		struct sc_exec_record *p = bpf_map_lookup_elem(&pending_exec, &tid);
		if (!p)
			goto not_entered;
		p->ret = ret;
		if (bpf_ringbuf_output(&events, p, sizeof(*p), BW_WAKEUP_FLAGS(events)) != 0)
			BW_COUNT_LOST(events_lost);
		bpf_map_delete_elem(&pending_exec, &tid);
	} else {
		struct sc_detail_record *p = bpf_map_lookup_elem(&pending_detail, &tid);
		if (!p)
			goto not_entered;
		p->ret = ret;
		if (bpf_ringbuf_output(&events, p, sizeof(*p), BW_WAKEUP_FLAGS(events)) != 0)
			BW_COUNT_LOST(events_lost);
		bpf_map_delete_elem(&pending_detail, &tid);
	}
	return 0;

not_entered:
	/* A detail syscall sys_enter never saw (denied by seccomp before the tracepoint): report the
	 * attempt from here, for watched tasks only. */
	if (filter_cgroups) {
		u64 cgid = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&watched, &cgid))
			return 0;
	}
	bpf_tail_call(ctx, &exit_detail_progs, (u32)id);
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * Process lifecycle.
 * ---------------------------------------------------------------------------------------- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (!wanted(p))
		return 0;
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tid = (u32)pid_tgid;
	u32 tgid = pid_tgid >> 32;
	char comm[BW_COMM_LEN];
	bpf_get_current_comm(comm, sizeof(comm));
	bpf_map_update_elem(&proc_comm, &tgid, comm, BPF_ANY);
	/* A non-leader thread that execs takes over the leader's pid: move its pending execve so
	 * sys_exit (which runs after this, under the new tid) finds it. */
	if ((u32)old_pid != tid) {
		u32 old = (u32)old_pid;
		struct sc_exec_record *pe = bpf_map_lookup_elem(&pending_exec, &old);
		if (pe) {
			bpf_map_update_elem(&pending_exec, &tid, pe, BPF_ANY);
			bpf_map_delete_elem(&pending_exec, &old);
		}
	}
	if (!process_events)
		return 0;
	struct sc_proc_exec_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	bw_fill_header_btf(&r->hdr, SC_REC_PROC_EXEC, p);
	r->ppid = BPF_CORE_READ(p, real_parent, tgid);
	r->uid = BPF_CORE_READ(p, real_cred, uid.val);
	r->old_tid = (u32)old_pid;
	/* The controlling terminal tells an interactive shell (docker exec -it) from a script's. */
	struct tty_struct *tty = BPF_CORE_READ(p, signal, tty);
	r->tty = 0;
	if (tty) {
		u32 major = BPF_CORE_READ(tty, driver, major);
		u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		r->tty = (major << 20) | (minor & 0xfffff);
	}
	u32 flags = 0;
	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(r->filename, sizeof(r->filename), filename);
	if (n < 0)
		r->filename[0] = 0;
	else if (n >= (long)sizeof(r->filename))
		flags |= SC_F_STR0_TRUNC;
	const char *interp = BPF_CORE_READ(bprm, interp);
	r->interp[0] = 0;
	if (interp && interp != filename) {
		n = bpf_probe_read_kernel_str(r->interp, sizeof(r->interp), interp);
		if (n < 0)
			r->interp[0] = 0;
		else if (n >= (long)sizeof(r->interp))
			flags |= SC_F_INTERP_TRUNC;
	}
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	r->exe[0] = 0;
	struct file *exe_file = BPF_CORE_READ(mm, exe_file);
	char *walk = exe_paths && exe_file ? bw_path_buf() : NULL;
	if (walk) {
		u32 start, depth;
		bool truncated;
		u32 len = bw_path_resolve(walk, p, &exe_file->f_path, 64, &start, &depth, &truncated);
		bpf_probe_read_kernel(r->exe, (len + 1) & (SC_STR_LEN - 1), &walk[start & (SC_STR_LEN - 1)]);
		if (truncated)
			flags |= SC_F_EXE_TRUNC;
	} else {
		flags |= SC_F_EXE_NONE;
	}
	/* argv as the new image sees it: the NUL-separated argument area of the new mm. */
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	u64 len = end > start ? end - start : 0;
	if (len > SC_PROC_ARGS_LEN) {
		len = SC_PROC_ARGS_LEN;
		flags |= SC_F_ARGV_MORE;
	}
	if (len == 0 || bpf_probe_read_user(r->args, len & (2 * SC_PROC_ARGS_LEN - 1) ?: 1, (void *)start) != 0)
		len = 0;
	r->args_len = (u32)len;
	r->flags = flags;
	BW_SUBMIT(events, r);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	if (!process_events || !wanted(parent))
		return 0;
	u32 child_tgid = BPF_CORE_READ(child, tgid);
	if (BPF_CORE_READ(child, pid) != child_tgid)
		return 0; /* a new thread, not a new process */
	struct sc_proc_fork_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	bw_fill_header_btf(&r->hdr, SC_REC_PROC_FORK, parent);
	r->child_pid = child_tgid;
	r->ppid = BPF_CORE_READ(parent, tgid);
	BW_SUBMIT(events, r);
	return 0;
}

/* Runs for every exiting thread: flushes its sequence buffer; reports the process exit when
 * the last thread goes (signal->live already dropped to 0 — the same test the kernel uses for
 * group_dead, which is also portable to kernels whose tracepoint lacks that argument). */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	if (!wanted(p))
		return 0;
	if (sequence_mode) {
		u32 tid = (u32)bpf_get_current_pid_tgid();
		struct sc_seq_buf *b = bpf_map_lookup_elem(&seq_bufs, &tid);
		if (b) {
			u32 n = b->count;
			if (n > 0 && n <= SC_SEQ_N)
				seq_flush(p, b, n);
			bpf_map_delete_elem(&seq_bufs, &tid);
		}
	}
	if (!process_events || BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	struct sc_proc_exit_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	bw_fill_header_btf(&r->hdr, SC_REC_PROC_EXIT, p);
	r->exit_code = BPF_CORE_READ(p, exit_code);
	r->_pad = 0;
	BW_SUBMIT(events, r);
	return 0;
}
