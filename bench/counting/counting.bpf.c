// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Syscall-counting benchmark references, attached one at a time by counting/loader.c:
 *   empty   - a tp_btf/sys_enter program that does nothing (the floor of any hook);
 *   counter - the minimal hand-written counter of the same keys plugin-syscall counts:
 *             host tasks (pid-ns level 0) leave first, then a per-(cgroup, tgid, syscall)
 *             hash entry is bumped with an atomic add.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"

struct count_key {
	__u64 cgroup_id;
	__u32 tgid;
	__u32 syscall;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct count_key);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(empty, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(counter, struct pt_regs *regs, long id)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (BPF_CORE_READ(task, thread_pid, level) == 0)
		return 0;
	struct count_key key = {
		.cgroup_id = bpf_get_current_cgroup_id(),
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.syscall = (__u32)id,
	};
	__u64 *v = bpf_map_lookup_elem(&counts, &key);
	if (v) {
		__sync_fetch_and_add(v, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	}
	return 0;
}
