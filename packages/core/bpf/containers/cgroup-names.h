/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel's table of cgroup names (cgroup-names.bpf.c): the value of bw_cgroup_names, keyed by
 * the cgroup v2 id every record header carries. Fixed-width types only: the decoder generator reads
 * this struct from the object's BTF.
 */
#ifndef BOXWATCH_CGROUP_NAMES_H
#define BOXWATCH_CGROUP_NAMES_H

/* Room for the longest runtime form, `cri-containerd-<64 hex>.scope` (85 bytes), and its NUL. */
#define BW_CGROUP_NAME_LEN 96
/* The cgroup and two ancestors: a container's processes may sit in a child cgroup of their own
 * (nested systemd, `init.scope`, docker-in-docker) below the one the runtime named. */
#define BW_CGROUP_NAME_LEVELS 3

/* bw_cgroup_name_entry.source: what first recorded the cgroup. */
enum bw_cgroup_name_source {
	BW_CGN_MKDIR = 1, /* cgroup_mkdir: the cgroup was created while we watched */
	BW_CGN_FORK = 2,  /* a container task forked inside it */
	BW_CGN_EXEC = 3,  /* a container task exec'd inside it */
};

struct bw_cgroup_name_entry {
	__u64 ts_ns;  /* bpf_ktime_get_ns() when recorded */
	__u32 source; /* enum bw_cgroup_name_source */
	__u32 level;  /* depth of the cgroup in the default hierarchy (root = 0) */
	/* kernfs names of the default-hierarchy cgroup, its parent and its grandparent ("" above the root) */
	char dfl[BW_CGROUP_NAME_LEVELS][BW_CGROUP_NAME_LEN];
	/* name of the task's memory-controller cgroup on a cgroup v1 hierarchy, when the host has one
	 * and a task was seen ("" when recorded by cgroup_mkdir, or on cgroup v2-only hosts) */
	char v1[BW_CGROUP_NAME_LEN];
};

#endif /* BOXWATCH_CGROUP_NAMES_H */
