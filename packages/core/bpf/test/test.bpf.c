// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test program for the core binding: exercises rodata, maps, ring buffers with lost-event
 * counting, and tail calls. Only the process whose tgid is `target_tgid` (and, with
 * include_containers, any container task) triggers it:
 *   getppid (110) → one test_record in `events` (or in the tiny `small_events` when use_small;
 *                   discarded instead when its seq is a multiple of discard_every)
 *   getuid  (102) → tail call into jmp[0], which bumps kv[TAIL_HITS_KEY]
 * Every triggering syscall also bumps kv[id].
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"
#include "test.h"

#define SYS_GETUID 102
#define SYS_GETPPID 110
#define TAIL_HITS_KEY 1000

BW_EXPORT_STRUCT(test_record);

const volatile u32 target_tgid = 0;
const volatile u64 magic = 0;
const volatile bool use_small = false;
/* Also trigger for any task inside a container (pid namespace level > 0). */
const volatile bool include_containers = false;
/* Discard (instead of submit) every record whose seq is a multiple of this (0: never). */
const volatile u32 discard_every = 0;

BW_RINGBUF(events, 256 * 1024);
BW_RINGBUF(small_events, 4096);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} kv SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} seq_per_cpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} jmp SEC(".maps");

static __always_inline void bump(u32 key)
{
	u64 one = 1, *v = bpf_map_lookup_elem(&kv, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&kv, &key, &one, BPF_NOEXIST);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(tail_target, struct pt_regs *regs, long id)
{
	bump(TAIL_HITS_KEY);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid &&
	    !(include_containers && bw_is_container_task(bpf_get_current_task_btf())))
		return 0;
	if (id != SYS_GETPPID && id != SYS_GETUID)
		return 0;
	bump((u32)id);
	if (id == SYS_GETUID) {
		bpf_tail_call(ctx, &jmp, 0);
		return 0;
	}

	u32 zero = 0;
	u64 *seq = bpf_map_lookup_elem(&seq_per_cpu, &zero);
	if (!seq)
		return 0;
	struct test_record *r;
	if (use_small)
		r = BW_RESERVE(small_events, small_events_lost, sizeof(*r));
	else
		r = BW_RESERVE(events, events_lost, sizeof(*r));
	if (!r)
		return 0;
	bw_fill_header(&r->hdr, 1, bpf_get_current_task_btf());
	bw_fill_header_btf(&r->hdr_btf, 1, bpf_get_current_task_btf());
	r->seq = ++(*seq);
	r->magic = magic;
	r->cpu = bpf_get_smp_processor_id();
	r->syscall = (u32)id;
	if (discard_every && r->seq % discard_every == 0)
		bpf_ringbuf_discard(r, 0);
	else if (use_small)
		BW_SUBMIT(small_events, r);
	else
		BW_SUBMIT(events, r);
	return 0;
}

/* cgroup_skb: counts egress packets of the cgroup it is attached to in kv[CGROUP_EGRESS_KEY]. */
#define CGROUP_EGRESS_KEY 2000

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	bump(CGROUP_EGRESS_KEY);
	return 1; /* allow */
}
