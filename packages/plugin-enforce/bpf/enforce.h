/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records and map values of the enforce plugin. Fixed-width types only: read by the BPF compiler
 * and, through the BTF of the built object, by the layout generator (src/generated/layout.ts).
 *
 * Policies live in slots 0..EN_MAX_POLICIES-1; every selection map holds a bit mask of slots, so
 * one lookup answers for all policies at once.
 */
#ifndef BOXWATCH_ENFORCE_H
#define BOXWATCH_ENFORCE_H

#include "boxwatch/event.h"

#define EN_RECORD_ACTION 1 /* bw_event_header.type of an enforce_record */

#define EN_MAX_POLICIES 64  /* bits of a policy mask */
#define EN_SYSCALL_MAX 512  /* syscall numbers covered by the syscall array */
#define EN_PREFIX_MAX 64    /* path-prefix bytes matched in the kernel (LPM trie key) */
#define EN_PATH_MAX 256     /* path bytes an enforce record carries, NUL included */
#define EN_CGROUP_NAME_LEN 96 /* = BW_CGROUP_NAME_LEN: kernfs name of a container's cgroup */

/* enforce_record.kind: what the task attempted */
#define EN_KIND_EXEC 1    /* an exec completed (path prefix or written-file match) */
#define EN_KIND_OPEN 2    /* an open for write/create under a prefix */
#define EN_KIND_SYSCALL 3 /* a listed syscall */
#define EN_KIND_CONNECT 4 /* a connect to a listed address/port */

/* enforce_record.reason bits (exec) */
#define EN_WHY_PREFIX 0x1  /* the path matched an exec prefix */
#define EN_WHY_WRITTEN 0x2 /* the file's inode was opened for write/create in this container */

/* enforce_policy.action */
#define EN_ACT_AUDIT 0
#define EN_ACT_KILL 1
#define EN_ACT_DENY 2

/* enforce_record.taken: what the kernel did */
#define EN_TAKEN_NONE 0        /* audit, or dryRun */
#define EN_TAKEN_KILL_PROCESS 1 /* bpf_send_signal(SIGKILL): the whole thread group */
#define EN_TAKEN_KILL_THREAD 2  /* bpf_send_signal_thread(SIGKILL): the task only */
#define EN_TAKEN_DENY 3         /* an LSM hook returned -EPERM */
#define EN_TAKEN_FAILED 4       /* the signal could not be queued (helper error in `err`) */

/* One policy slot (array map `en_policies`), written by userspace. */
struct enforce_policy {
	__u32 id;      /* userspace's policy id (a slot is reused: the id tells which policy acted) */
	__u8 action;   /* EN_ACT_* */
	__u8 thread;   /* kill only the task (bpf_send_signal_thread), not the process */
	__u8 dry_run;  /* record what would be done, do nothing */
	__u8 _pad;
};

/* Which policies watch which kind of behaviour (array map `en_masks`, key 0). A cgroup's policy
 * mask is ANDed with these before any argument is read. */
struct enforce_masks {
	__u64 exec_prefix;  /* policies with exec.pathPrefixes */
	__u64 exec_written; /* policies with exec.writtenFiles: track write opens, match exec'd inodes */
	__u64 open_write;   /* policies with open.writePrefixes */
	__u64 connect;      /* policies with connect rules */
	__u64 host;         /* policies that act on host processes (matched by comm, en_host_comms) */
	__u64 deny;         /* policies whose action is deny: in lsm-deny, syscall entry leaves the
	                     * operations an LSM hook covers to the hook (it refuses, not kills) */
};

/* Key of the en_exec_prefixes / en_write_prefixes LPM tries: the path's first bytes. The value is
 * the mask of every policy with a prefix of this key (userspace folds shorter prefixes in), so
 * the longest match alone answers for all policies. */
struct enforce_prefix_key {
	__u32 prefixlen; /* in bits */
	__u8 data[EN_PREFIX_MAX];
};

/* Key of en_connect: IPv4 addresses are stored v4-mapped (::ffff:a.b.c.d); addr all-zero = any
 * address, port 0 = any port. */
struct enforce_connect_key {
	__u8 addr[16];
	__u16 port; /* host byte order */
	__u16 _pad;
};

/* Key of en_written: a file opened for write/create by a task of the cgroup. */
struct enforce_inode_key {
	__u64 cgroup_id;
	__u64 ino;
	__u32 dev; /* super_block s_dev */
	__u32 _pad;
};

/* Key of en_pending: a cgroup kernfs name, NUL-padded. */
struct enforce_cgroup_name {
	char name[EN_CGROUP_NAME_LEN];
};

/* One action (or dry-run / audit). Variable length: only path_len + 1 bytes of `path` are sent. */
struct enforce_record {
	struct bw_event_header hdr;
	__u32 policy_id;   /* enforce_policy.id */
	__u8 kind;         /* EN_KIND_* */
	__u8 action;       /* EN_ACT_* the policy asked for */
	__u8 taken;        /* EN_TAKEN_* */
	__u8 reason;       /* EN_WHY_* (exec) */
	__s64 syscall;     /* syscall number (-1 for exec/LSM hooks) */
	__s32 err;         /* helper error when taken == EN_TAKEN_FAILED */
	__u32 open_flags;  /* open: flags as passed */
	__u64 ino;         /* exec: inode of the exec'd file */
	__u32 dev;         /* exec: its device */
	__u16 port;        /* connect: destination port */
	__u8 family;       /* connect: AF_INET / AF_INET6 */
	__u8 _pad;
	__u8 addr[16];     /* connect: destination (v4-mapped for AF_INET) */
	__u16 path_len;    /* bytes of path, NUL excluded */
	__u8 _pad2[6];
	char path[EN_PATH_MAX];
};

#endif /* BOXWATCH_ENFORCE_H */
