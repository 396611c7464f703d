// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * enforce: policies evaluated in the kernel (issue 22). Userspace compiles each policy into a
 * slot (bit) of the maps below; the programs test the cheapest facts first and act on the
 * matching policy of the lowest slot.
 *
 * Variant syscall-kill (every kernel with tp_btf):
 *   en_sys_enter    tp_btf/sys_enter: listed syscalls, opens for write/create under a prefix,
 *                   connects. The action is SIGKILL (process or thread) sent from syscall entry:
 *                   the task dies on its way back to user space, AFTER the syscall ran.
 *   en_exec         tp_btf/sched_process_exec: exec path prefixes and exec of written files. The
 *                   exec has completed, the kill lands before the new image runs an instruction.
 *   en_sys_exit     tp_btf/sys_exit: remembers the inode of every file a selected container opened
 *                   for write/create (for exec.writtenFiles).
 *   en_cgroup_mkdir tp_btf/cgroup_mkdir: a new cgroup whose kernfs name userspace listed in
 *                   en_pending (from the runtime's create event) is selected at creation, before
 *                   any task runs in it. en_exec repeats the test for a cgroup created before the
 *                   name was listed (the entrypoint's exec is the container's first).
 * Variant lsm-deny (kernels with BPF LSM): the same, plus LSM hooks that refuse with -EPERM
 *   before the operation happens for policies whose action is deny.
 *
 * Per-syscall cost for tasks of unselected containers: the container test and one hash lookup by
 * cgroup id (host tasks: one array lookup while no host policy exists).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "boxwatch/common.h"
#include "enforce.h"

BW_EXPORT_STRUCT(enforce_record);
BW_EXPORT_STRUCT(enforce_policy);
BW_EXPORT_STRUCT(enforce_masks);
BW_EXPORT_STRUCT(enforce_prefix_key);
BW_EXPORT_STRUCT(enforce_connect_key);
BW_EXPORT_STRUCT(enforce_inode_key);
BW_EXPORT_STRUCT(enforce_cgroup_name);

#define SIGKILL 9
#define EPERM 1
#define AF_INET 2
#define AF_INET6 10
#define O_ACCMODE 00000003
#define O_CREAT 00000100
#define O_TRUNC 00001000

/* x86_64 syscall numbers the argument checks need. */
#define NR_open 2
#define NR_connect 42
#define NR_creat 85
#define NR_openat 257
#define NR_openat2 437

/* The agent's own process: never acted on, whatever a policy says. */
const volatile u32 agent_tgid = 0;
/* True in the lsm-deny variant: deny policies are refused by the LSM hooks, not killed. */
const volatile bool lsm_deny = false;

BW_RINGBUF(events, 256 * 1024);

/* cgroup id -> mask of the policies that select it */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u64);
} en_cgroups SEC(".maps");

/* kernfs name of a cgroup not created yet -> mask (selected at cgroup_mkdir) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct enforce_cgroup_name);
	__type(value, u64);
} en_pending SEC(".maps");

/* host comm (16 bytes, NUL-padded) -> mask of host policies naming it */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[BW_COMM_LEN]);
	__type(value, u64);
} en_host_comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EN_MAX_POLICIES);
	__type(key, u32);
	__type(value, struct enforce_policy);
} en_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct enforce_masks);
} en_masks SEC(".maps");

/* syscall number -> mask of the policies listing it */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, EN_SYSCALL_MAX);
	__type(key, u32);
	__type(value, u64);
} en_syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct enforce_prefix_key);
	__type(value, u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} en_exec_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__type(key, struct enforce_prefix_key);
	__type(value, u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} en_write_prefixes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct enforce_connect_key);
	__type(value, u64);
} en_connect SEC(".maps");

/* Files written in selected containers (exec.writtenFiles). LRU: the oldest entries go first when
 * full; each eviction is a file whose exec would no longer match (counted: CNT_WRITTEN_EVICTABLE is
 * the number of inserts, userspace compares with max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct enforce_inode_key);
	__type(value, u8);
} en_written SEC(".maps");

/* Scratch record and keys (too large for the BPF stack). */
struct en_scratch {
	struct enforce_record rec;
	struct enforce_prefix_key key;
	struct enforce_cgroup_name name;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct en_scratch);
} en_scratch_map SEC(".maps");

/* [0] actions taken (signals sent / denials), [1] signals that failed, [2] written inodes recorded,
 * [3] cgroups selected by name in the kernel */
#define CNT_ACTIONS 0
#define CNT_SIGNAL_FAILED 1
#define CNT_WRITTEN 2
#define CNT_SELECTED_BY_NAME 3
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

static __always_inline void count(u32 slot)
{
	u64 *n = bpf_map_lookup_elem(&counters, &slot);
	if (n)
		(*n)++;
}

static __always_inline struct en_scratch *scratch(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&en_scratch_map, &zero);
}

static __always_inline struct enforce_masks *masks(void)
{
	u32 zero = 0;
	return bpf_map_lookup_elem(&en_masks, &zero);
}

/* Mask of the policies acting on the current task; 0 for the agent and unselected tasks. */
static __always_inline u64 task_mask(struct task_struct *task)
{
	if (bw_is_container_task_btf(task)) {
		u64 cgid = task->cgroups->dfl_cgrp->kn->id;
		u64 *m = bpf_map_lookup_elem(&en_cgroups, &cgid);
		return m ? *m : 0;
	}
	struct enforce_masks *ms = masks();
	if (!ms || !ms->host)
		return 0;
	if (task->tgid == agent_tgid)
		return 0;
	char comm[BW_COMM_LEN] = {};
	bpf_get_current_comm(comm, sizeof(comm));
	u64 *m = bpf_map_lookup_elem(&en_host_comms, comm);
	return m ? *m & ms->host : 0;
}

/* Lowest policy slot set in `m` (m != 0). */
static __always_inline u32 lowest_slot(u64 m)
{
	u32 slot = 0;
	if (!(m & 0xffffffffULL)) { slot += 32; m >>= 32; }
	if (!(m & 0xffffULL)) { slot += 16; m >>= 16; }
	if (!(m & 0xffULL)) { slot += 8; m >>= 8; }
	if (!(m & 0xfULL)) { slot += 4; m >>= 4; }
	if (!(m & 0x3ULL)) { slot += 2; m >>= 2; }
	if (!(m & 0x1ULL)) slot += 1;
	return slot;
}

/*
 * Act for the policies in `m`: the lowest slot whose action is kill/deny wins over audit ones, so
 * an audit policy never shadows a kill. Fills and submits the scratch record `s->rec` (the caller
 * set kind/syscall and the attempt's fields). Returns true when the operation must be refused
 * (LSM hooks only: `can_deny`).
 */
static __always_inline bool act(struct en_scratch *s, struct task_struct *task, u64 m, bool can_deny)
{
	struct enforce_policy *chosen = NULL;
	/* Two passes over at most a few set bits: first an acting policy, else any. */
	u64 rest = m;
	for (int i = 0; i < 8 && rest; i++) {
		u32 slot = lowest_slot(rest);
		rest &= rest - 1;
		struct enforce_policy *p = bpf_map_lookup_elem(&en_policies, &slot);
		if (!p)
			continue;
		if (!chosen)
			chosen = p;
		if (p->action != EN_ACT_AUDIT && !p->dry_run) {
			chosen = p;
			break;
		}
	}
	if (!chosen)
		return false;
	struct enforce_record *r = &s->rec;
	r->policy_id = chosen->id;
	r->action = chosen->action;
	r->err = 0;
	bool deny = false;
	if (chosen->dry_run || chosen->action == EN_ACT_AUDIT) {
		r->taken = EN_TAKEN_NONE;
	} else if (chosen->action == EN_ACT_DENY && lsm_deny && can_deny) {
		r->taken = EN_TAKEN_DENY;
		deny = true;
		count(CNT_ACTIONS);
	} else {
		/* kill, or deny where no LSM hook can refuse this operation: kill at once */
		long err = chosen->thread ? bpf_send_signal_thread(SIGKILL) : bpf_send_signal(SIGKILL);
		r->taken = chosen->thread ? EN_TAKEN_KILL_THREAD : EN_TAKEN_KILL_PROCESS;
		if (err) {
			r->taken = EN_TAKEN_FAILED;
			r->err = err;
			count(CNT_SIGNAL_FAILED);
		} else {
			count(CNT_ACTIONS);
		}
	}
	bw_fill_header(&r->hdr, EN_RECORD_ACTION, task);
	u32 len = r->path_len;
	if (len > EN_PATH_MAX - 1)
		len = EN_PATH_MAX - 1;
	u32 size = offsetof(struct enforce_record, path) + len + 1;
	if (size > sizeof(*r))
		size = sizeof(*r);
	/* bpf_ringbuf_output copies the variable-length prefix; a failure is a lost record. */
	if (bpf_ringbuf_output(&events, r, size, BW_WAKEUP_FLAGS(events)))
		BW_COUNT_LOST(events_lost);
	return deny;
}

static __always_inline void rec_reset(struct enforce_record *r, u8 kind, s64 syscall)
{
	r->kind = kind;
	r->syscall = syscall;
	r->reason = 0;
	r->open_flags = 0;
	r->ino = 0;
	r->dev = 0;
	r->port = 0;
	r->family = 0;
	r->_pad = 0;
	__builtin_memset(r->addr, 0, sizeof(r->addr));
	r->path_len = 0;
	r->path[0] = 0;
}

/* Copy a user path into the record and the prefix key; returns the mask of matching prefixes. */
static __always_inline u64 match_user_path(struct en_scratch *s, const char *upath, void *trie)
{
	long n = bpf_probe_read_user_str(s->rec.path, EN_PATH_MAX, upath);
	if (n <= 0)
		return 0;
	s->rec.path_len = n - 1;
	__builtin_memset(s->key.data, 0, EN_PREFIX_MAX);
	bpf_probe_read_kernel(s->key.data, EN_PREFIX_MAX, s->rec.path);
	u32 bytes = n - 1 < EN_PREFIX_MAX ? n - 1 : EN_PREFIX_MAX;
	s->key.prefixlen = bytes * 8;
	u64 *m = bpf_map_lookup_elem(trie, &s->key);
	return m ? *m : 0;
}

static __always_inline void check_open(struct task_struct *task, struct pt_regs *regs, long id, u64 m)
{
	const char *upath;
	u32 flags;
	if (id == NR_openat) {
		upath = (const char *)BPF_CORE_READ(regs, si);
		flags = BPF_CORE_READ(regs, dx);
	} else if (id == NR_open) {
		upath = (const char *)BPF_CORE_READ(regs, di);
		flags = BPF_CORE_READ(regs, si);
	} else if (id == NR_creat) {
		upath = (const char *)BPF_CORE_READ(regs, di);
		flags = O_CREAT | O_TRUNC | 1;
	} else {
		struct open_how how = {};
		upath = (const char *)BPF_CORE_READ(regs, si);
		bpf_probe_read_user(&how, sizeof(how), (const void *)BPF_CORE_READ(regs, dx));
		flags = how.flags;
	}
	if (!(flags & (O_ACCMODE | O_CREAT | O_TRUNC)))
		return; /* read-only open */
	struct en_scratch *s = scratch();
	if (!s)
		return;
	rec_reset(&s->rec, EN_KIND_OPEN, id);
	u64 hit = match_user_path(s, upath, &en_write_prefixes) & m;
	if (!hit)
		return;
	s->rec.open_flags = flags;
	act(s, task, hit, false);
}

static __always_inline void check_connect(struct task_struct *task, struct pt_regs *regs, u64 m)
{
	struct sockaddr_in6 sa = {};
	if (bpf_probe_read_user(&sa, sizeof(sa), (const void *)BPF_CORE_READ(regs, si)) < 0 &&
	    bpf_probe_read_user(&sa, sizeof(struct sockaddr_in), (const void *)BPF_CORE_READ(regs, si)) < 0)
		return;
	struct enforce_connect_key k = {};
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		__builtin_memcpy(&k.addr[12], &in->sin_addr.s_addr, 4);
		k.port = bpf_ntohs(in->sin_port);
	} else if (sa.sin6_family == AF_INET6) {
		__builtin_memcpy(k.addr, &sa.sin6_addr, 16);
		k.port = bpf_ntohs(sa.sin6_port);
	} else {
		return;
	}
	u16 port = k.port;
	u64 hit = 0;
	u64 *v = bpf_map_lookup_elem(&en_connect, &k);
	if (v)
		hit |= *v;
	k.port = 0; /* address, any port */
	v = bpf_map_lookup_elem(&en_connect, &k);
	if (v)
		hit |= *v;
	struct enforce_connect_key any = { .port = port }; /* any address, this port */
	v = bpf_map_lookup_elem(&en_connect, &any);
	if (v)
		hit |= *v;
	hit &= m;
	if (!hit)
		return;
	struct en_scratch *s = scratch();
	if (!s)
		return;
	rec_reset(&s->rec, EN_KIND_CONNECT, NR_connect);
	s->rec.family = sa.sin6_family;
	s->rec.port = port;
	k.port = port;
	__builtin_memcpy(s->rec.addr, k.addr, 16);
	act(s, task, hit, false);
}

/* runc's init stages (comm "runc:[1:CHILD]", "runc:[2:INIT]") run in the new cgroup and pid
 * namespace and mount, unshare and setns to build the container before exec'ing its entrypoint:
 * they are the runtime, not the container, and are never acted on for listed syscalls. */
static __always_inline bool runtime_init(struct task_struct *task)
{
	return task->comm[0] == 'r' && task->comm[1] == 'u' && task->comm[2] == 'n' && task->comm[3] == 'c' && task->comm[4] == ':';
}

SEC("tp_btf/sys_enter")
int BPF_PROG(en_sys_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	/* 1. The container test and one lookup by cgroup id: everything unselected leaves here. */
	u64 m = task_mask(task);
	if (!m)
		return 0;
	/* 2. Listed syscalls: one array lookup. */
	if (id >= 0 && id < EN_SYSCALL_MAX) {
		u32 k = id;
		u64 *s = bpf_map_lookup_elem(&en_syscalls, &k);
		if (s && (*s & m) && !runtime_init(task)) {
			u64 sm = *s & m;
			/* lsm-deny: mount, ptrace and bpf are refused by their LSM hook, not killed here */
			if (lsm_deny && (id == 165 || id == 101 || id == 321)) {
				struct enforce_masks *ms = masks();
				if (ms)
					sm &= ~ms->deny;
			}
			struct en_scratch *sc = scratch();
			if (sc && sm) {
				rec_reset(&sc->rec, EN_KIND_SYSCALL, id);
				act(sc, task, sm, false);
			}
			return 0;
		}
	}
	/* 3. Argument checks, only for the syscalls and policies that have them. */
	if (id != NR_openat && id != NR_open && id != NR_creat && id != NR_openat2 && id != NR_connect)
		return 0;
	struct enforce_masks *ms = masks();
	if (!ms)
		return 0;
	/* lsm-deny: file_open and socket_connect refuse deny policies before the operation */
	if (lsm_deny)
		m &= ~ms->deny;
	if (id == NR_connect) {
		if (m & ms->connect)
			check_connect(task, regs, m & ms->connect);
	} else if (m & ms->open_write) {
		check_open(task, regs, id, m & ms->open_write);
	}
	return 0;
}

/* sys_exit of a successful write/create open in a selected container: remember the inode. */
SEC("tp_btf/sys_exit")
int BPF_PROG(en_sys_exit, struct pt_regs *regs, long ret)
{
	if (ret < 0)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!bw_is_container_task_btf(task))
		return 0;
	u64 cgid = task->cgroups->dfl_cgrp->kn->id;
	u64 *m = bpf_map_lookup_elem(&en_cgroups, &cgid);
	if (!m)
		return 0;
	long id = BPF_CORE_READ(regs, orig_ax);
	if (id != NR_openat && id != NR_open && id != NR_creat && id != NR_openat2)
		return 0;
	struct enforce_masks *ms = masks();
	if (!ms || !(*m & ms->exec_written))
		return 0;
	u32 flags;
	if (id == NR_openat) {
		flags = BPF_CORE_READ(regs, dx);
	} else if (id == NR_open) {
		flags = BPF_CORE_READ(regs, si);
	} else if (id == NR_creat) {
		flags = O_CREAT | 1;
	} else {
		struct open_how how = {};
		bpf_probe_read_user(&how, sizeof(how), (const void *)BPF_CORE_READ(regs, dx));
		flags = how.flags;
	}
	if (!(flags & (O_ACCMODE | O_CREAT | O_TRUNC)))
		return 0;
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	if ((u64)ret >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[ret]);
	if (!f)
		return 0;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	struct enforce_inode_key k = {
		.cgroup_id = cgid,
		.ino = BPF_CORE_READ(inode, i_ino),
		.dev = BPF_CORE_READ(inode, i_sb, s_dev),
	};
	u8 one = 1;
	if (bpf_map_update_elem(&en_written, &k, &one, BPF_ANY) == 0)
		count(CNT_WRITTEN);
	return 0;
}

/* Read the kernfs name of `cgrp` into s->name (NUL-padded) and look it up in en_pending. */
static __always_inline u64 pending_mask(struct en_scratch *s, struct cgroup *cgrp)
{
	__builtin_memset(s->name.name, 0, EN_CGROUP_NAME_LEN);
	const char *name = BPF_CORE_READ(cgrp, kn, name);
	if (bpf_probe_read_kernel_str(s->name.name, EN_CGROUP_NAME_LEN, name) <= 0)
		return 0;
	u64 *m = bpf_map_lookup_elem(&en_pending, &s->name);
	return m ? *m : 0;
}

static __always_inline void select_cgroup(struct cgroup *cgrp, u64 m)
{
	u64 id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_map_update_elem(&en_cgroups, &id, &m, BPF_NOEXIST) == 0)
		count(CNT_SELECTED_BY_NAME);
}

/* A container's cgroup is created: select it now if the runtime announced it (en_pending). */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(en_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0; /* only the default hierarchy's ids are what tasks report */
	struct en_scratch *s = scratch();
	if (!s)
		return 0;
	u64 m = pending_mask(s, cgrp);
	if (m)
		select_cgroup(cgrp, m);
	return 0;
}

/* Exec completed: the new image has not run yet. Also the second chance to select a cgroup that
 * existed before its name reached en_pending. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(en_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct en_scratch *s = scratch();
	if (!s)
		return 0;
	u64 m = task_mask(task);
	if (!m && bw_is_container_task_btf(task)) {
		struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
		m = pending_mask(s, cgrp);
		if (m)
			select_cgroup(cgrp, m);
	}
	if (!m)
		return 0;
	struct enforce_masks *ms = masks();
	if (!ms || !(m & (ms->exec_prefix | ms->exec_written)))
		return 0;
	rec_reset(&s->rec, EN_KIND_EXEC, -1);
	u64 hit = 0;
	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(s->rec.path, EN_PATH_MAX, filename);
	if (n > 0) {
		s->rec.path_len = n - 1;
		if (m & ms->exec_prefix) {
			__builtin_memset(s->key.data, 0, EN_PREFIX_MAX);
			bpf_probe_read_kernel(s->key.data, EN_PREFIX_MAX, s->rec.path);
			u32 bytes = n - 1 < EN_PREFIX_MAX ? n - 1 : EN_PREFIX_MAX;
			s->key.prefixlen = bytes * 8;
			u64 *pm = bpf_map_lookup_elem(&en_exec_prefixes, &s->key);
			if (pm && (*pm & m & ms->exec_prefix)) {
				hit |= *pm & m & ms->exec_prefix;
				s->rec.reason |= EN_WHY_PREFIX;
			}
		}
	}
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	s->rec.ino = BPF_CORE_READ(inode, i_ino);
	s->rec.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (m & ms->exec_written) {
		struct enforce_inode_key k = {
			.cgroup_id = task->cgroups->dfl_cgrp->kn->id,
			.ino = s->rec.ino,
			.dev = s->rec.dev,
		};
		if (bpf_map_lookup_elem(&en_written, &k)) {
			hit |= m & ms->exec_written;
			s->rec.reason |= EN_WHY_WRITTEN;
		}
	}
	if (hit)
		act(s, task, hit, false);
	return 0;
}

/* ---------------------------------------------------------------------------------------------
 * lsm-deny variant: refuse before the operation. Each hook evaluates the same maps; an action of
 * deny returns -EPERM, kill and audit behave as at syscall entry.
 * ------------------------------------------------------------------------------------------- */

SEC("lsm/bprm_check_security")
int BPF_PROG(en_lsm_bprm, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret;
	struct task_struct *task = bpf_get_current_task_btf();
	u64 m = task_mask(task);
	if (!m)
		return 0;
	struct enforce_masks *ms = masks();
	struct en_scratch *s = scratch();
	if (!ms || !s)
		return 0;
	rec_reset(&s->rec, EN_KIND_EXEC, -1);
	u64 hit = 0;
	long n = bpf_probe_read_kernel_str(s->rec.path, EN_PATH_MAX, BPF_CORE_READ(bprm, filename));
	if (n > 0 && (m & ms->exec_prefix)) {
		s->rec.path_len = n - 1;
		__builtin_memset(s->key.data, 0, EN_PREFIX_MAX);
		bpf_probe_read_kernel(s->key.data, EN_PREFIX_MAX, s->rec.path);
		s->key.prefixlen = (n - 1 < EN_PREFIX_MAX ? n - 1 : EN_PREFIX_MAX) * 8;
		u64 *pm = bpf_map_lookup_elem(&en_exec_prefixes, &s->key);
		if (pm && (*pm & m & ms->exec_prefix)) {
			hit |= *pm & m & ms->exec_prefix;
			s->rec.reason |= EN_WHY_PREFIX;
		}
	}
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	s->rec.ino = BPF_CORE_READ(inode, i_ino);
	s->rec.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (m & ms->exec_written) {
		struct enforce_inode_key k = { .cgroup_id = task->cgroups->dfl_cgrp->kn->id, .ino = s->rec.ino, .dev = s->rec.dev };
		if (bpf_map_lookup_elem(&en_written, &k)) {
			hit |= m & ms->exec_written;
			s->rec.reason |= EN_WHY_WRITTEN;
		}
	}
	if (hit && act(s, task, hit, true))
		return -EPERM;
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(en_lsm_file_open, struct file *file, int ret)
{
	if (ret)
		return ret;
	u32 flags = BPF_CORE_READ(file, f_flags);
	if (!(flags & (O_ACCMODE | O_CREAT | O_TRUNC)))
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	u64 m = task_mask(task);
	struct enforce_masks *ms = masks();
	if (!m || !ms || !(m & ms->open_write))
		return 0;
	struct en_scratch *s = scratch();
	if (!s)
		return 0;
	rec_reset(&s->rec, EN_KIND_OPEN, -1);
	long n = bpf_d_path((struct path *)&file->f_path, s->rec.path, EN_PATH_MAX);
	if (n <= 0)
		return 0;
	s->rec.path_len = n - 1;
	__builtin_memset(s->key.data, 0, EN_PREFIX_MAX);
	bpf_probe_read_kernel(s->key.data, EN_PREFIX_MAX, s->rec.path);
	s->key.prefixlen = (n - 1 < EN_PREFIX_MAX ? n - 1 : EN_PREFIX_MAX) * 8;
	u64 *pm = bpf_map_lookup_elem(&en_write_prefixes, &s->key);
	u64 hit = pm ? *pm & m & ms->open_write : 0;
	s->rec.open_flags = flags;
	if (hit && act(s, task, hit, true))
		return -EPERM;
	return 0;
}

/* A listed syscall that has an LSM hook: refuse it there. */
static __always_inline int lsm_syscall(long nr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	u64 m = task_mask(task);
	if (!m)
		return 0;
	u32 k = nr;
	u64 *sm = bpf_map_lookup_elem(&en_syscalls, &k);
	if (!sm || !(*sm & m))
		return 0;
	struct en_scratch *s = scratch();
	if (!s)
		return 0;
	rec_reset(&s->rec, EN_KIND_SYSCALL, nr);
	return act(s, task, *sm & m, true) ? -EPERM : 0;
}

SEC("lsm/sb_mount")
int BPF_PROG(en_lsm_sb_mount, const char *dev_name, const struct path *path, const char *type, unsigned long flags, void *data, int ret)
{
	return ret ? ret : lsm_syscall(165 /* mount */);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(en_lsm_ptrace, struct task_struct *child, unsigned int mode, int ret)
{
	return ret ? ret : lsm_syscall(101 /* ptrace */);
}

SEC("lsm/bpf")
int BPF_PROG(en_lsm_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	return ret ? ret : lsm_syscall(321 /* bpf */);
}

SEC("lsm/socket_connect")
int BPF_PROG(en_lsm_socket_connect, struct socket *sock, struct sockaddr *address, int addrlen, int ret)
{
	if (ret)
		return ret;
	struct task_struct *task = bpf_get_current_task_btf();
	u64 m = task_mask(task);
	struct enforce_masks *ms = masks();
	if (!m || !ms || !(m & ms->connect))
		return 0;
	struct enforce_connect_key k = {};
	u16 family = BPF_CORE_READ(address, sa_family);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)address;
		k.addr[10] = 0xff;
		k.addr[11] = 0xff;
		u32 a = BPF_CORE_READ(in, sin_addr.s_addr);
		__builtin_memcpy(&k.addr[12], &a, 4);
		k.port = bpf_ntohs(BPF_CORE_READ(in, sin_port));
	} else if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)address;
		bpf_probe_read_kernel(k.addr, 16, &in6->sin6_addr);
		k.port = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
	} else {
		return 0;
	}
	u16 port = k.port;
	u64 hit = 0;
	u64 *v = bpf_map_lookup_elem(&en_connect, &k);
	if (v)
		hit |= *v;
	k.port = 0;
	v = bpf_map_lookup_elem(&en_connect, &k);
	if (v)
		hit |= *v;
	struct enforce_connect_key any = { .port = port };
	v = bpf_map_lookup_elem(&en_connect, &any);
	if (v)
		hit |= *v;
	hit &= m & ms->connect;
	if (!hit)
		return 0;
	struct en_scratch *s = scratch();
	if (!s)
		return 0;
	rec_reset(&s->rec, EN_KIND_CONNECT, NR_connect);
	s->rec.family = family;
	s->rec.port = port;
	k.port = port;
	__builtin_memcpy(s->rec.addr, k.addr, 16);
	return act(s, task, hit, true) ? -EPERM : 0;
}
