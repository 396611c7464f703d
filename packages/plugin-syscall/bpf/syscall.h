/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records and map keys of the syscall plugin. Fixed-width types only: the TypeScript decoder reads
 * them through src/generated/layout.ts, generated from the BTF of the built object.
 */
#ifndef BOXWATCH_SYSCALL_H
#define BOXWATCH_SYSCALL_H

#include "boxwatch/event.h"

/* bw_event_header.type of the ring-buffer records. */
#define SC_REC_DETAIL 1  /* struct sc_detail_record: one detail syscall, args + strings + ret */
#define SC_REC_EXEC 2    /* struct sc_exec_record: execve/execveat, filename + argv + ret */
#define SC_REC_PROC_EXEC 3 /* struct sc_proc_exec_record: sched_process_exec */
#define SC_REC_PROC_FORK 4 /* struct sc_proc_fork_record: sched_process_fork (new processes only) */
#define SC_REC_PROC_EXIT 5 /* struct sc_proc_exit_record: sched_process_exit (last thread) */
#define SC_REC_SEQ 6     /* struct sc_seq_record: consecutive syscall ids of one thread */
#define SC_REC_KSEQ 7    /* struct sc_kseq_record: an n-gram not in the profile's known set */

/* What a detail tail-call program captures besides the six raw arguments (the shape of the
 * syscall; userspace knows which shape each syscall has and names the fields). */
#define SC_STR_LEN 256   /* path-like string arguments */
#define SC_STR_SHORT 64  /* fstype and similar short strings */
#define SC_ARGV_N 8      /* argv entries captured */
#define SC_ARG_LEN 128   /* bytes per argv entry */
#define SC_PROC_ARGS_LEN 1024 /* bytes of the new image's argument area (NUL-separated argv) */
#define SC_SEQ_N 64      /* syscall ids per sequence record */

/* sc_*_record.flags */
#define SC_F_STR0_TRUNC 0x1  /* str0 / filename filled its buffer */
#define SC_F_STR1_TRUNC 0x2
#define SC_F_STR2_TRUNC 0x4
#define SC_F_ARGV_MORE 0x8   /* more argv entries than captured */
#define SC_F_BLOCKED 0x10    /* never reached sys_enter (seccomp denied it): captured at sys_exit */
#define SC_F_FD0_SOCKET 0x20 /* dup2/dup3: the descriptor in argument 0 was a socket at entry; its
                              * address family (u16, 0xffff unreadable) is in str2's first bytes */
#define SC_F_EXE_TRUNC 0x100 /* process.exec: exe lost components (too deep or too long) */
#define SC_F_EXE_NONE 0x200  /* process.exec: no exe path (the walk is off: no bpf_loop, or no mm->exe_file) */
#define SC_F_INTERP_TRUNC 0x400 /* process.exec: interp filled its buffer */

/* struct sc_detail_record.str2 of connect: the first SC_SOCKADDR_LEN bytes of the destination
 * sockaddr as the caller passed it (raw, decoded in userspace); fits sockaddr_in and sockaddr_in6. */
#define SC_SOCKADDR_LEN 28

/* A detail syscall: raw arguments plus up to three user strings read at entry, ret at exit. */
struct sc_detail_record {
	struct bw_event_header hdr;
	__s64 ret;       /* syscall return value (negative errno on failure) */
	__u64 args[6];   /* raw syscall arguments */
	__u32 syscall;   /* syscall id (architecture numbering) */
	__u32 flags;     /* SC_F_* */
	char str0[SC_STR_LEN];
	char str1[SC_STR_LEN];
	char str2[SC_STR_SHORT]; /* connect: raw sockaddr bytes instead (SC_SOCKADDR_LEN); dup2/3: family */
};

/* execve / execveat at entry (filename and argv as the caller passed them), ret at exit. */
struct sc_exec_record {
	struct bw_event_header hdr;
	__s64 ret;
	__u64 args[6];
	__u32 syscall;
	__u32 flags;
	__u32 argc;      /* argv entries captured (<= SC_ARGV_N) */
	__u32 _pad;
	char filename[SC_STR_LEN];
	char argv[SC_ARGV_N][SC_ARG_LEN];
};

/* sched_process_exec: the new image. */
struct sc_proc_exec_record {
	struct bw_event_header hdr;
	__u32 ppid;      /* parent tgid, host namespace */
	__u32 uid;       /* real uid */
	__u32 old_tid;   /* thread id before exec (differs when a non-leader thread exec'd) */
	__u32 args_len;  /* bytes valid in args */
	__u32 flags;     /* SC_F_STR0_TRUNC: filename truncated; SC_F_ARGV_MORE: argument area truncated */
	__u32 tty;       /* controlling terminal as a kernel dev_t (major << 20 | minor); 0: none */
	char filename[SC_STR_LEN]; /* the path exec'd, as passed (bprm->filename) */
	/* The file the new image runs (mm->exe_file) as the task sees it, walked through its mounts:
	 * /bin/busybox for an applet re-exec'd through /proc/self/exe, the interpreter's binary for a
	 * script, a symlink's target. */
	char exe[SC_STR_LEN];
	/* bprm->interp when it differs from filename: the interpreter a #! script named (empty otherwise) */
	char interp[SC_STR_LEN];
	char args[SC_PROC_ARGS_LEN]; /* NUL-separated argv from the new mm's arg_start..arg_end */
};

/* sched_process_fork of a new process (thread creation is not reported). Header = parent. */
struct sc_proc_fork_record {
	struct bw_event_header hdr;
	__u32 child_pid; /* host namespace */
	__u32 ppid;      /* the parent (forking) process's tgid */
};

/* sched_process_exit of a process's last thread. */
struct sc_proc_exit_record {
	struct bw_event_header hdr;
	__u32 exit_code; /* task->exit_code: status << 8 | signal */
	__u32 _pad;
};

/* Sequence mode: consecutive syscall ids of one thread (header tid), oldest first. */
struct sc_seq_record {
	struct bw_event_header hdr;
	__u32 count;
	__u32 _pad;
	__u16 ids[SC_SEQ_N];
};

/*
 * Kernel sequence filtering (docs/stide-kernel.md). The n-gram key is the STIDE model's `packed10`
 * key: the last n syscall ids, oldest first, 10 bits each: key = sum id_i * 1024^(n-1-i), rolled per
 * syscall as key = ((key << 10) | id) & (2^(10n) - 1). Exact (injective) for ids < 1024 and n <= 6;
 * the plugin allows n <= 5 so a key is also exact in a JS number (50 bits).
 */
#define SC_KSEQ_MAX_N 8  /* ids slots in a mismatch record (n <= 5 used) */
#define SC_KSEQ_ID_BITS 10

/* sc_watch_value.mode */
#define SC_KSEQ_OFF 0     /* roll the thread state only */
#define SC_KSEQ_LEARN 1   /* count n-grams per profile in kseq_learn */
#define SC_KSEQ_DETECT 2  /* look n-grams up in kseq_known; emit a record for each one not there */

/* Value of the `watched` cgroup map: the container's profile (image) and its counter slot. */
struct sc_watch_value {
	__u32 profile;   /* profile id (one per image), assigned by userspace; 0 = none */
	__u32 slot;      /* index into kseq_counters (one per watched container) */
	__u32 mode;      /* SC_KSEQ_* for this container's profile */
	__u32 _pad;
};

/* Key of kseq_known and kseq_learn. */
struct sc_kseq_key {
	__u64 ngram;     /* packed key */
	__u32 profile;
	__u32 _pad;
};

/* Per-container, per-CPU counters (kseq_counters[slot]). */
struct sc_kseq_counter {
	__u64 matches;     /* detect mode: n-grams found in the known set */
	__u64 mismatches;  /* detect mode: n-grams not found (each one a record, unless lost) */
	__u64 learned;     /* learn mode: n-grams counted into kseq_learn */
	__u64 dropped;     /* learn-map inserts that failed (map full) and mismatch records lost */
};

/* Detect mode: an n-gram of one thread (header tid) that is not in its profile's known set. */
struct sc_kseq_record {
	struct bw_event_header hdr;
	__u64 ngram;     /* packed key of the n-gram */
	__u64 gap;       /* matching n-grams of this thread since its previous record (or its start) */
	__u32 profile;
	__u32 n;
	__u16 ids[SC_KSEQ_MAX_N]; /* the n ids, oldest first (n used) */
};

/* Counter map key and value. */
struct sc_count_key {
	__u64 cgroup_id;
	__u32 tgid;
	__u32 syscall;
};

struct sc_count_value {
	__u64 count;
	char comm[BW_COMM_LEN]; /* comm when this CPU's slot was first used (survives the process) */
};

#endif /* BOXWATCH_SYSCALL_H */
