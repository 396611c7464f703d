// SPDX-License-Identifier: GPL-2.0
// A tiny boxwatch plugin, kernel side: one record per mkdir/mkdirat made inside a container.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"

#define NR_MKDIR 83
#define NR_MKDIRAT 258

struct hello_record {
	struct bw_event_header hdr;
	__u64 syscall;
};
BW_EXPORT_STRUCT(hello_record);
BW_RINGBUF(hello_events, 256 * 1024);

SEC("tp_btf/sys_enter")
int BPF_PROG(hello_on_enter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();

	if (id != NR_MKDIR && id != NR_MKDIRAT)
		return 0;
	if (!bw_is_container_task(task))
		return 0;
	struct hello_record *r = BW_RESERVE(hello_events, hello_events_lost, sizeof(*r));
	if (!r)
		return 0;
	bw_fill_header(&r->hdr, 1, task);
	r->syscall = id;
	BW_SUBMIT(hello_events, r);
	return 0;
}
