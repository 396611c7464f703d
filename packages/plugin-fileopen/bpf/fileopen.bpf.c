// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fileopen: every file a container opens, with the path the container sees and the filesystem
 * type. Three hook variants, the loader enables one (the others are compiled and shipped but
 * have autoload off):
 *
 *   kretprobe  kprobe + kretprobe on do_filp_open (the seed's hook). The kernel hands us the
 *              struct file directly; the fd is not allocated yet, so `ret` is 0 on success.
 *   tp_btf     tp_btf/sys_exit only, for open/openat/openat2/creat: the arguments are still in
 *              the syscall's pt_regs at exit, so nothing is stashed at enter. The returned fd is
 *              resolved through task->files->fdt->fd[fd] to the struct file, and the path is walked
 *              with direct BTF loads (bpf_rdonly_cast, Linux 6.2+); where the kernel rejects that,
 *              userspace reloads with direct_walk off and the walk uses probe reads.
 *   raw_tp     raw_tracepoint/sys_enter + sys_exit (older kernels without tp_btf): the
 *              arguments are stashed per thread at enter (path argument copied then) and the
 *              walk uses probe reads.
 *
 * From the struct file the path is rebuilt by a mount-aware walk (core's boxwatch/path-walk.h:
 * d_parent inside a mount, mnt_mountpoint/mnt_parent across mounts, stop at the task's fs->root)
 * so it reads as the container sees it: /dev/null, /proc/<pid>/status, /etc/hostname (a bind
 * mount). The walk runs in bpf_loop, not an unrolled loop: the verifier checks the step once,
 * which keeps load time low (unrolled walks cost ~0.7 s per program on the reference machine).
 *
 * Failed opens carry the path argument as passed and the negative errno (tp_btf: read at exit
 * from the caller's memory; raw_tp: copied at enter; kretprobe: the kernel's copy).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"
#include "fileopen.h"

BW_EXPORT_STRUCT(file_open_record);
BW_EXPORT_STRUCT(fileopen_config);
BW_EXPORT_STRUCT(deny_prefix_key);
BW_EXPORT_STRUCT(deny_hint);

/* x86_64 syscall numbers (the object is built for __TARGET_ARCH_x86; 32-bit compat syscalls are
 * not hooked). */
#define NR_open 2
#define NR_creat 85
#define NR_openat 257
#define NR_openat2 437

#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_TMPFILE_BIT 020000000
#define FMODE_EXEC_FLAG 0x20 /* __FMODE_EXEC in open_flags.open_flag: execve's own open */

#define FO_ARG_MAX 256          /* bytes of the path argument kept from enter (failed opens) */
#define PATH_MASK (FO_PATH_MAX - 1)
#define NAME_MASK 255           /* NAME_MAX: a dentry name is at most 255 bytes */

/* Report host (initial pid namespace) tasks too. Load-time only: it guards the early exit. */
const volatile bool include_host = false;
/* Path components walked before the path is marked truncated. */
const volatile u32 max_depth = 64;
/* Size of the `events` ring buffer as userspace set it (setMaxEntries): the wakeup threshold
 * below compares against it instead of asking the kernel (one helper call less per record). */
const volatile u64 ring_bytes = 4 << 20;

/* tp_btf: resolve fd -> file -> path with direct BTF loads (needs the bpf_rdonly_cast kfunc,
 * Linux 6.2+). Off: the same walk with probe reads. Userspace turns it off and reloads when the
 * verifier rejects the program (the weak kfunc is then unresolved and must be dead code). */
const volatile bool direct_walk = true;

/* Generic kfunc (6.2+): a read-only BTF-typed view of a kernel pointer; the verifier inlines it
 * to a register move. Weak, so the object still loads where it is missing (direct_walk off). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define BTF_CAST(type, p) ((type *)bpf_rdonly_cast((const void *)(p), bpf_core_type_id_kernel(type)))
/* With direct_walk, trusted pointers (the current task, the tracepoint's regs) are viewed through
 * the same cast before any field is loaded. The loads are the same instructions, but the
 * verifier checks a load through a trusted pointer by searching the kernel's BTF by name for
 * `<struct>__safe_trusted`-style annotations (up to four linear scans per load on 6.18): that
 * made up most of the program's verification time. Loads through an untrusted view skip it. */
#define UNTRUSTED(type, p) (direct_walk ? BTF_CAST(type, p) : (p))

BW_RINGBUF(events, 4 << 20);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct fileopen_config);
} fo_config SEC(".maps");

/* cgroup ids to report when config.filter_cgroups is on. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u8);
} watched_cgroups SEC(".maps");

/* Path prefixes (first FO_PREFIX_MAX bytes) → FO_DENY_* / FO_ALLOW; the longest prefix wins. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct deny_prefix_key);
	__type(value, u32);
} deny_prefixes SEC(".maps");

/* Pre-filter of the deny list (see struct deny_hint): an array lookup is inlined by the
 * verifier, an LPM trie lookup is a helper call. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct deny_hint);
} deny_hint SEC(".maps");

/* Counters (per-CPU, summed by userspace). Indices: */
#define CNT_PENDING_FULL 0 /* an open could not be stashed at enter: event lost */
#define CNT_UNRESOLVED 1   /* fd did not resolve to a file at exit: reported with the argument path */
#define CNT_DENIED 2       /* dropped by the deny-prefix list */
#define CNT_FILTERED 3     /* dropped by only-writes / watched-containers */
#define CNT_MAX 4
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, u32);
	__type(value, u64);
} counters SEC(".maps");

/* What enter saw, kept until exit. */
struct open_args {
	u32 flags;
	u32 mode;
	u64 kname;             /* kretprobe variant: kernel copy of the name (struct filename) */
	char arg[FO_ARG_MAX];  /* tracepoint variants: the user's path argument, copied at enter */
};

/* Keyed by thread id. A plain hash (not LRU) so a full table is a counted drop, not a silent
 * eviction; sys_exit always follows sys_enter, so entries do not leak in practice. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct open_args);
} pending SEC(".maps");

/* State of the direct-load path walk (tp_btf). It lives in the scratch map, not on the stack:
 * values loaded from a map are plain scalars to the verifier, so every bpf_loop iteration has the
 * same abstract state and the code after the loop is verified once, not once per pointer type
 * the walk has seen. */
struct walk_state_btf {
	u64 dentry;
	u64 vfsmnt;
	u64 mnt;
	u64 root_dentry;
	u64 root_mnt;
	u32 pos;   /* the path so far is walk[pos, FO_PATH_MAX - 1) */
	u32 depth; /* components written */
	u8 truncated;
	u8 done;
};

/* Per-CPU working memory: too big for the 512-byte stack. The record is built here and sent
 * with bpf_ringbuf_output at its used length; `walk` receives the path back to front. */
struct scratch {
	struct file_open_record rec;
	struct open_args args;
	struct walk_state_btf w;
	/* Last filesystem type name copied on this CPU, keyed by the file_system_type and its name
	 * pointer (static kernel data: the same pair always names the same string). */
	u64 fs_type;
	u64 fs_name;
	char fs[FO_FS_LEN];
	/* tp_sys_exit -> report_exit: the current task (a global function takes scalars only, and
	 * a value loaded from a map is one). */
	u64 task;
	char walk[FO_PATH_MAX + NAME_MASK + 1];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

static __always_inline void count(u32 idx)
{
	u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		(*c)++;
}

static __always_inline bool is_write_open(u32 flags)
{
	return (flags & O_ACCMODE) != 0 || (flags & (O_CREAT | O_TRUNC | O_TMPFILE_BIT)) != 0;
}

/* Filters that only need the flags and the task: applied before any stash or walk, so filtered
 * opens cost neither. */
static __always_inline bool wanted(u32 flags)
{
	u32 zero = 0;
	struct fileopen_config *cfg = bpf_map_lookup_elem(&fo_config, &zero);
	if (!cfg)
		return true;
	if (cfg->only_writes && !is_write_open(flags))
		goto filtered;
	if (cfg->filter_cgroups) {
		u64 cg = bpf_get_current_cgroup_id();
		if (!bpf_map_lookup_elem(&watched_cgroups, &cg))
			goto filtered;
	}
	return true;
filtered:
	count(CNT_FILTERED);
	return false;
}

/* ------------------------------------------------------------------------------------------
 * Mount-aware path walk with probe reads (core's boxwatch/path-walk.h), into scratch->walk
 * ---------------------------------------------------------------------------------------- */

#define BW_PATH_MAX FO_PATH_MAX
static __always_inline char *bw_path_buf(void)
{
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	return s ? s->walk : NULL;
}
#include "boxwatch/path-walk.h"

/* Write the path of `file` into s->rec (path, path_len, depth, status, fs). */
static __always_inline void resolve_file_path(struct scratch *s, struct task_struct *task, struct file *file)
{
	u32 start, depth;
	bool truncated;
	u32 len = bw_path_resolve(s->walk, task, &file->f_path, max_depth, &start, &depth, &truncated);
	bpf_probe_read_kernel(s->rec.path, (len + 1) & PATH_MASK, &s->walk[start & PATH_MASK]);
	s->rec.path_len = len;
	s->rec.depth = depth;
	s->rec.status = truncated ? FO_ST_TRUNCATED : 0;
	s->rec.source = FO_SRC_FILE;

	const char *fsname = BPF_CORE_READ(file, f_path.mnt, mnt_sb, s_type, name);
	bpf_probe_read_kernel_str(s->rec.fs, sizeof(s->rec.fs), fsname);
}

/* ------------------------------------------------------------------------------------------
 * The same walk with direct BTF loads (tp_btf, direct_walk on). Kernel pointers travel as u64 and
 * are viewed through bpf_rdonly_cast: every field load is an inlined fault-tolerant load instead
 * of a bpf_probe_read_kernel call; only the name bytes are copied with a helper.
 * ---------------------------------------------------------------------------------------- */

static int walk_step_btf(u32 index, void *arg)
{
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 1;
	struct walk_state_btf *w = &s->w;
	u64 dv = w->dentry;
	u64 mv = w->vfsmnt;

	/* The task's root (the container's /): done. */
	if (dv == w->root_dentry && mv == w->root_mnt) {
		w->done = 1;
		return 1;
	}
	struct dentry *d = BTF_CAST(struct dentry, dv);
	struct vfsmount *vfsmnt = BTF_CAST(struct vfsmount, mv);
	u64 mnt_root = (u64)vfsmnt->mnt_root;
	u64 parent = (u64)d->d_parent;
	if (dv == mnt_root || dv == parent) {
		struct mount *m = BTF_CAST(struct mount, w->mnt);
		u64 up = (u64)m->mnt_parent;
		/* Root of the whole mount tree, or a dentry disconnected from its mount: nothing above. */
		if (dv != mnt_root || w->mnt == up) {
			w->done = 1;
			return 1;
		}
		/* Continue from the mountpoint in the parent mount; no component is written. */
		w->dentry = (u64)m->mnt_mountpoint;
		w->mnt = up;
		w->vfsmnt = up + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}

	if (w->depth >= max_depth) {
		w->truncated = 1;
		return 1;
	}
	u32 len = d->d_name.len;
	const unsigned char *name = d->d_name.name;
	/* Keep pos >= 1 so the finished path plus NUL is at most FO_PATH_MAX - 1 bytes. */
	u32 pos = w->pos;
	if (len > NAME_MASK || len + 2 > pos) {
		w->truncated = 1;
		return 1;
	}
	pos -= len;
	bpf_probe_read_kernel(&s->walk[pos & PATH_MASK], len & NAME_MASK, name);
	pos--;
	s->walk[pos & PATH_MASK] = '/';
	w->pos = pos;
	w->depth++;
	w->dentry = parent;
	return 0;
}

/* task->files->fdt->fd[fd]: direct loads down to the fd array, one read for the slot (a
 * variable index into a kernel array is not a BTF load the verifier accepts). 0 if unresolved. */
static __always_inline u64 fd_to_file_btf(struct task_struct *task, long fd)
{
	struct fdtable *fdt = task->files->fdt;
	unsigned int max = fdt->max_fds;
	if (fd < 0 || fd >= max)
		return 0;
	u64 fds = (u64)fdt->fd;
	u64 file = 0;
	bpf_probe_read_kernel(&file, sizeof(file), (const void *)(fds + fd * sizeof(u64)));
	return file;
}

/* resolve_file_path with direct loads. */
static __always_inline void resolve_file_path_btf(struct scratch *s, struct task_struct *task, u64 filev)
{
	struct file *file = BTF_CAST(struct file, filev);
	struct fs_struct *fs = task->fs;
	struct walk_state_btf *w = &s->w;
	w->dentry = (u64)file->f_path.dentry;
	w->vfsmnt = (u64)file->f_path.mnt;
	w->mnt = w->vfsmnt - bpf_core_field_offset(struct mount, mnt);
	w->root_dentry = (u64)fs->root.dentry;
	w->root_mnt = (u64)fs->root.mnt;
	w->pos = FO_PATH_MAX - 1;
	w->depth = 0;
	w->truncated = 0;
	w->done = 0;
	s->walk[FO_PATH_MAX - 1] = 0;

	/* Every component can be preceded by a mount crossing: twice max_depth steps suffice. */
	bpf_loop(max_depth * 2 + 2, walk_step_btf, NULL, 0);
	u8 truncated = w->truncated || !w->done;
	u32 pos = w->pos;
	if (pos > FO_PATH_MAX - 1 || pos < 1) {
		/* Not reached (walk_step_btf keeps 1 <= pos <= FO_PATH_MAX - 1); never send garbage. */
		pos = FO_PATH_MAX - 1;
		truncated = 1;
	}
	if (pos == FO_PATH_MAX - 1) {
		/* The root itself. */
		pos--;
		s->walk[pos & PATH_MASK] = '/';
	}
	u32 len = FO_PATH_MAX - 1 - pos;
	bpf_probe_read_kernel(s->rec.path, (len + 1) & PATH_MASK, &s->walk[pos & PATH_MASK]);
	s->rec.path_len = len;
	s->rec.depth = w->depth;
	s->rec.status = truncated ? FO_ST_TRUNCATED : 0;
	s->rec.source = FO_SRC_FILE;

	struct file_system_type *fst = file->f_path.mnt->mnt_sb->s_type;
	u64 fsname = (u64)fst->name;
	if ((u64)fst != s->fs_type || fsname != s->fs_name) {
		if (bpf_probe_read_kernel_str(s->fs, sizeof(s->fs), (const char *)fsname) < 0)
			s->fs[0] = 0;
		s->fs_type = (u64)fst;
		s->fs_name = fsname;
	}
	__builtin_memcpy(s->rec.fs, s->fs, sizeof(s->rec.fs));
}

/* The argument path of a failed open (or of a success whose fd vanished). */
static __always_inline void argument_path(struct scratch *s, struct open_args *a)
{
	long n;
	if (a->kname)
		n = bpf_probe_read_kernel_str(s->rec.path, FO_PATH_MAX - 1, (const void *)a->kname);
	else
		n = bpf_probe_read_kernel_str(s->rec.path, FO_ARG_MAX, a->arg);
	if (n < 1) {
		s->rec.path[0] = 0;
		n = 1;
	}
	s->rec.path_len = (n - 1) & PATH_MASK;
	s->rec.depth = 0;
	/* An argument that filled the enter-time copy was cut there. */
	s->rec.status = (!a->kname && n >= FO_ARG_MAX) ? FO_ST_TRUNCATED : 0;
	s->rec.source = FO_SRC_ARG;
	s->rec.fs[0] = 0;
}

/* The argument path read at exit from the caller's memory (tp_btf): the same bytes and the same
 * truncation rule as the copy raw_tp takes at enter. */
static __always_inline void argument_path_user(struct scratch *s, const char *upath)
{
	long n = bpf_probe_read_user_str(s->rec.path, FO_ARG_MAX, upath);
	if (n < 1) {
		s->rec.path[0] = 0;
		n = 1;
	}
	s->rec.path_len = (n - 1) & PATH_MASK;
	s->rec.depth = 0;
	s->rec.status = n >= FO_ARG_MAX ? FO_ST_TRUNCATED : 0;
	s->rec.source = FO_SRC_ARG;
	s->rec.fs[0] = 0;
}

/* The longest deny/allow prefix matching the path decides. */
static __always_inline bool denied(struct scratch *s, u32 flags)
{
	u32 zero = 0;
	struct deny_hint *hint = bpf_map_lookup_elem(&deny_hint, &zero);
	if (hint) {
		/* No prefix can match a path whose second byte has no hint bit. (A path shorter than two
		 * bytes can only match the prefix "/", which sets every bit.) */
		u8 c = s->rec.path[1];
		if (!(hint->second[(c >> 3) & 31] & (1 << (c & 7))))
			return false;
	}
	struct deny_prefix_key k;
	u32 len = s->rec.path_len;
	k.prefixlen = (len < FO_PREFIX_MAX ? len : FO_PREFIX_MAX) * 8;
	__builtin_memcpy(k.data, s->rec.path, FO_PREFIX_MAX);
	u32 *action = bpf_map_lookup_elem(&deny_prefixes, &k);
	if (!action)
		return false;
	return (*action & (is_write_open(flags) ? FO_DENY_WRITES : FO_DENY_READS)) != 0;
}

/* Deny-list check and ring-buffer output of the record built in s->rec. */
static __always_inline void send_record(struct scratch *s, u32 flags)
{
	if (denied(s, flags)) {
		count(CNT_DENIED);
		return;
	}
	u32 size = offsetof(struct file_open_record, path) + ((s->rec.path_len + 1) & PATH_MASK);
	if (size > sizeof(s->rec))
		return;
	/* BW_WAKEUP_FLAGS with the ring size from rodata. */
	u64 flags_rb = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ring_bytes / BW_WAKEUP_FRACTION ? BPF_RB_FORCE_WAKEUP
												 : bw_below_threshold_flags(&events_idle);
	if (bpf_ringbuf_output(&events, &s->rec, size, flags_rb) < 0)
		BW_COUNT_LOST(events_lost);
}

/* Build and send the record for one finished open. `a` is the scratch copy of the stash. */
static __always_inline void emit_open(struct scratch *s, struct task_struct *task, long ret, struct file *file)
{
	struct open_args *a = &s->args;
	bw_fill_header(&s->rec.hdr, FO_RECORD_OPEN, task);
	s->rec.ret = ret;
	s->rec.raw_flags = a->flags;
	s->rec.mode = a->mode;
	if (file)
		resolve_file_path(s, task, file);
	else
		argument_path(s, a);
	send_record(s, a->flags);
}

/* ------------------------------------------------------------------------------------------
 * raw_tp variant: stash at sys_enter, resolve the fd at sys_exit
 * ---------------------------------------------------------------------------------------- */

static __always_inline int open_enter(struct pt_regs *regs, long id)
{
	/* Four compares are cheaper than the pid-namespace read: filter the syscall first. */
	if (id != NR_openat && id != NR_open && id != NR_openat2 && id != NR_creat)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (!include_host && !bw_is_container_task(task))
		return 0;

	const char *upath;
	u32 flags, mode;
	if (id == NR_openat) {
		upath = (const char *)BPF_CORE_READ(regs, si);
		flags = BPF_CORE_READ(regs, dx);
		mode = BPF_CORE_READ(regs, r10);
	} else if (id == NR_open) {
		upath = (const char *)BPF_CORE_READ(regs, di);
		flags = BPF_CORE_READ(regs, si);
		mode = BPF_CORE_READ(regs, dx);
	} else if (id == NR_creat) {
		upath = (const char *)BPF_CORE_READ(regs, di);
		flags = O_CREAT | O_WRONLY | O_TRUNC;
		mode = BPF_CORE_READ(regs, si);
	} else {
		struct open_how how = {};
		upath = (const char *)BPF_CORE_READ(regs, si);
		bpf_probe_read_user(&how, sizeof(how), (const void *)BPF_CORE_READ(regs, dx));
		flags = how.flags;
		mode = how.mode;
	}
	/* As the kernel does (build_open_how): the mode only means something when creating. */
	mode = (flags & (O_CREAT | O_TMPFILE_BIT)) ? (mode & 07777) : 0;
	if (!wanted(flags))
		return 0;

	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	s->args.flags = flags;
	s->args.mode = mode;
	s->args.kname = 0;
	if (bpf_probe_read_user_str(s->args.arg, sizeof(s->args.arg), upath) < 0)
		s->args.arg[0] = 0;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending, &tid, &s->args, BPF_ANY) < 0)
		count(CNT_PENDING_FULL);
	return 0;
}

static __always_inline struct file *fd_to_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if (fd < 0 || fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

/* The open's arguments stashed at enter, moved into this CPU's scratch (and out of the pending
 * map, which is per thread); NULL when this open was not stashed (filtered at enter). */
static __always_inline struct scratch *take_pending(void)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct open_args *a = bpf_map_lookup_elem(&pending, &tid);
	if (!a)
		return NULL;
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (s)
		__builtin_memcpy(&s->args, a, sizeof(*a));
	bpf_map_delete_elem(&pending, &tid);
	return s;
}

/* `id` is the syscall number (regs->orig_ax): sys_exit runs for every syscall on the machine,
 * so the caller reads it as cheaply as its program type allows. */
static __always_inline int open_exit(long id, long ret)
{
	if (id != NR_openat && id != NR_open && id != NR_openat2 && id != NR_creat)
		return 0;
	/* Only opens that passed the enter filters have a stash: the lookup is the filter. */
	struct scratch *s = take_pending();
	if (!s)
		return 0;

	struct task_struct *task = bpf_get_current_task_btf();
	struct file *file = NULL;
	if (ret >= 0) {
		file = fd_to_file(task, ret);
		if (!file)
			count(CNT_UNRESOLVED);
	}
	emit_open(s, task, ret, file);
	return 0;
}

static __always_inline bool is_open_nr(long id)
{
	return id == NR_openat || id == NR_open || id == NR_openat2 || id == NR_creat;
}

/* ------------------------------------------------------------------------------------------
 * tp_btf variant: one program at sys_exit. The syscall's arguments are still in its pt_regs (only
 * ax holds the result), so there is no enter program and no per-thread stash: a successful open
 * never copies its path argument, a failed one reads it from the caller's memory here.
 * ---------------------------------------------------------------------------------------- */

/* The rest of tp_sys_exit, after the arguments are decoded. A global (non-static) function: the
 * verifier checks it once with unknown arguments instead of once per decoding branch (creat's
 * constant flags would otherwise double the work). */
__noinline int report_exit(u64 upath, u32 flags, u32 mode, long ret)
{
	/* As the kernel does (build_open_how): the mode only means something when creating. */
	mode = (flags & (O_CREAT | O_TMPFILE_BIT)) ? (mode & 07777) : 0;
	if (!wanted(flags))
		return 0;

	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	/* direct_walk: the caller's task, passed through scratch; else the trusted pointer again,
	 * which the probe-read walk needs. */
	struct task_struct *task = direct_walk ? BTF_CAST(struct task_struct, s->task) : bpf_get_current_task_btf();
	if (direct_walk)
		bw_fill_header_btf(&s->rec.hdr, FO_RECORD_OPEN, task);
	else
		bw_fill_header(&s->rec.hdr, FO_RECORD_OPEN, task);
	s->rec.ret = ret;
	s->rec.raw_flags = flags;
	s->rec.mode = mode;

	bool resolved = false;
	if (ret >= 0) {
		if (direct_walk) {
			u64 file = fd_to_file_btf(task, ret);
			if (file) {
				resolve_file_path_btf(s, task, file);
				resolved = true;
			}
		} else {
			struct file *file = fd_to_file(task, ret);
			if (file) {
				resolve_file_path(s, task, file);
				resolved = true;
			}
		}
		if (!resolved)
			count(CNT_UNRESOLVED);
	}
	if (!resolved)
		argument_path_user(s, (const char *)upath);
	send_record(s, flags);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(tp_sys_exit, struct pt_regs *tp_regs, long ret)
{
	/* Direct BTF loads (no helper calls). */
	struct pt_regs *regs = UNTRUSTED(struct pt_regs, tp_regs);
	long id = regs->orig_ax;
	if (!is_open_nr(id))
		return 0;
	struct task_struct *task = UNTRUSTED(struct task_struct, bpf_get_current_task_btf());
	if (!include_host && !bw_is_container_task_btf(task))
		return 0;

	u64 upath;
	u32 flags, mode;
	if (id == NR_openat) {
		upath = regs->si;
		flags = regs->dx;
		mode = regs->r10;
	} else if (id == NR_open) {
		upath = regs->di;
		flags = regs->si;
		mode = regs->dx;
	} else if (id == NR_creat) {
		upath = regs->di;
		flags = O_CREAT | O_WRONLY | O_TRUNC;
		mode = regs->si;
	} else {
		struct open_how how = {};
		upath = regs->si;
		bpf_probe_read_user(&how, sizeof(how), (const void *)regs->dx);
		flags = how.flags;
		mode = how.mode;
	}
	if (direct_walk) {
		u32 zero = 0;
		struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
		if (!s)
			return 0;
		s->task = (u64)task;
	}
	return report_exit(upath, flags, mode, ret);
}

SEC("raw_tracepoint/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	return open_enter((struct pt_regs *)ctx->args[0], (long)ctx->args[1]);
}

SEC("raw_tracepoint/sys_exit")
int raw_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	return open_exit(BPF_CORE_READ(regs, orig_ax), (long)ctx->args[1]);
}

/* ------------------------------------------------------------------------------------------
 * kretprobe variant (the seed's hook): do_filp_open returns the struct file itself
 * ---------------------------------------------------------------------------------------- */

SEC("kprobe/do_filp_open")
int BPF_KPROBE(kp_do_filp_open, int dfd, struct filename *pathname, const struct open_flags *op)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (!include_host && !bw_is_container_task(task))
		return 0;
	u32 flags = BPF_CORE_READ(op, open_flag);
	/* execve opens the binary through do_filp_open too; process.exec reports that. */
	if (flags & FMODE_EXEC_FLAG)
		return 0;
	u32 mode = (flags & (O_CREAT | O_TMPFILE_BIT)) ? (BPF_CORE_READ(op, mode) & 07777) : 0;
	if (!wanted(flags))
		return 0;
	u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	s->args.flags = flags;
	s->args.mode = mode;
	/* The kernel's own copy of the name: it lives until do_filp_open's caller returns. */
	s->args.kname = (u64)BPF_CORE_READ(pathname, name);
	s->args.arg[0] = 0;
	u32 tid = (u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending, &tid, &s->args, BPF_ANY) < 0)
		count(CNT_PENDING_FULL);
	return 0;
}

SEC("kretprobe/do_filp_open")
int BPF_KRETPROBE(krp_do_filp_open, struct file *file)
{
	struct scratch *s = take_pending();
	if (!s)
		return 0;
	long ret = 0;
	/* IS_ERR: the top 4095 values are negative errnos. */
	if ((unsigned long)file >= (unsigned long)-4095) {
		ret = (long)file;
		file = NULL;
	}
	emit_open(s, bpf_get_current_task_btf(), ret, file);
	return 0;
}
