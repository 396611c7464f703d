/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The header every boxwatch ring-buffer record starts with. Fixed-width types only: this file is
 * read by the BPF compiler and, through the BTF of the built object, by the TypeScript decoder
 * generator (packages/core/scripts/gen-layout.mjs).
 */
#ifndef BOXWATCH_EVENT_H
#define BOXWATCH_EVENT_H

#define BW_COMM_LEN 16
#define BW_CONTAINER_ID_LEN 72 /* 64 hex + room for the runtime's prefixes/suffixes */

/* bw_event_header.flags */
#define BW_HDR_HOST 0x1 /* the task is in the initial pid namespace */

struct bw_event_header {
	__u64 ts_ns;     /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id; /* cgroup v2 id of the task (the container key) */
	__u32 tgid;      /* process id, host namespace */
	__u32 pid;       /* thread id, host namespace */
	__u32 ns_tgid;   /* process id inside the task's own pid namespace */
	__u16 type;      /* plugin-defined record type */
	__u8 flags;      /* BW_HDR_* */
	__u8 _pad;
	char comm[BW_COMM_LEN];
};

#endif /* BOXWATCH_EVENT_H */
