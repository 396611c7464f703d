// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Event-delivery benchmark producer: one 64-byte record (bw_event_header + 16 bytes) per syscall
 * entered by tasks of ONE cgroup (the benchmark container), submitted without wakeup the boxwatch
 * way (BW_RESERVE / BW_SUBMIT: lost counter `events_lost`, forced wakeup past 1/4 fill).
 * The same object is consumed by the C (libbpf), Go (cilium/ebpf) and boxwatch consumers.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"

struct delivery_record {
	struct bw_event_header hdr; /* 48 bytes */
	__u64 syscall;
	__u64 seq;
};
BW_EXPORT_STRUCT(delivery_record);

/* cgroup v2 id of the benchmark container (inode of /sys/fs/cgroup/unified/docker/<id>). */
const volatile __u64 target_cgroup = 0;

BW_RINGBUF(events, 1024 * 1024);

__u64 seq_counter = 0;

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (bpf_get_current_cgroup_id() != target_cgroup)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct delivery_record *r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	bw_fill_header_btf(&r->hdr, 1, task);
	r->syscall = id;
	r->seq = __sync_fetch_and_add(&seq_counter, 1);
	BW_SUBMIT(events, r);
	return 0;
}
