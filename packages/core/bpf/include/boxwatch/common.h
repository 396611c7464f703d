/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * boxwatch shared kernel-side definitions: the common event header every plugin record starts with,
 * container recognition helpers and the ring-buffer reserve/submit conventions (lost-event counting,
 * no-wakeup submission with an early wakeup past a fill threshold).
 *
 * Include after vmlinux.h and the libbpf headers:
 *   #include "vmlinux.h"
 *   #include <bpf/bpf_helpers.h>
 *   #include <bpf/bpf_core_read.h>
 *   #include <bpf/bpf_tracing.h>
 *   #include "boxwatch/common.h"
 */
#ifndef BOXWATCH_COMMON_H
#define BOXWATCH_COMMON_H

#include "boxwatch/event.h"
#include "boxwatch/container.h"

#ifndef BOXWATCH_NO_LICENSE
char LICENSE[] SEC("license") = "Dual BSD/GPL";
#endif

/* Make a record struct visible in the object's BTF even though the program only ever uses it
 * through a ring-buffer pointer; the decoder generator (boxwatch-gen-layout) reads it from there. */
#define BW_EXPORT_STRUCT(name) const struct name *__bw_export_##name __attribute__((unused))

BW_EXPORT_STRUCT(bw_event_header);

/* ---------------------------------------------------------------------------------------------
 * Container recognition
 * ------------------------------------------------------------------------------------------- */

/* Level of the task's pid namespace: 0 is the host (initial) namespace, anything deeper is a
 * container (or another sandbox). This is the cheapest "is it a container" test we have, so
 * programs call it first and return early for host tasks. */
static __always_inline unsigned int bw_task_pidns_level(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, pid_ns_for_children, level);
}

/* The pid namespace of the task's own pid (not pid_ns_for_children, which a task can change
 * with unshare(CLONE_NEWPID) without itself moving). */
static __always_inline unsigned int bw_task_own_pidns_level(struct task_struct *task)
{
	return BPF_CORE_READ(task, thread_pid, level);
}

/* Pid and tgid as seen inside the task's own pid namespace (what `ps` in the container shows). */
static __always_inline u32 bw_task_ns_tgid(struct task_struct *task)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	return BPF_CORE_READ(pid, numbers[level].nr);
}

/* Is this task inside a container? Host tasks (level 0) are not, unless the plugin was loaded
 * with host processes on. Works with any task pointer (probe reads). */
static __always_inline bool bw_is_container_task(struct task_struct *task)
{
	return bw_task_own_pidns_level(task) > 0;
}

/* The same test for a BTF-typed task pointer (bpf_get_current_task_btf(), tp_btf arguments):
 * direct loads instead of two bpf_probe_read_kernel calls. This runs on every syscall of every
 * process in the syscall plugin, so the difference is measurable. */
static __always_inline bool bw_is_container_task_btf(struct task_struct *task)
{
	struct pid *pid = task->thread_pid;
	return pid && pid->level > 0;
}

/* Fill the common header from the current task. */
static __always_inline void bw_fill_header(struct bw_event_header *h, u16 type, struct task_struct *task)
{
	u64 id = bpf_get_current_pid_tgid();
	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->tgid = id >> 32;
	h->pid = (u32)id;
	h->ns_tgid = bw_task_ns_tgid(task);
	h->type = type;
	h->flags = bw_task_own_pidns_level(task) == 0 ? BW_HDR_HOST : 0;
	h->_pad = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* bw_fill_header for a BTF-typed task pointer (tp_btf and fentry arguments,
 * bpf_get_current_task_btf(), bpf_rdonly_cast): the same field values with direct loads instead
 * of helper calls and probe reads. Each helper call costs a call and a return, and returns are
 * expensive on hosts with retbleed/SRSO mitigations; only the clock remains a call. pid/tgid are
 * what bpf_get_current_pid_tgid returns, the cgroup id what bpf_get_current_cgroup_id returns (the
 * task's default-hierarchy cgroup, kernfs id), the comm the 16 bytes bpf_get_current_comm copies
 * (the kernel keeps task->comm NUL-padded). Loads through BTF pointers are fault-safe (a freed or
 * NULL pointer reads as 0). core's binding test checks both versions give the same header. */
static __always_inline void bw_fill_header_btf(struct bw_event_header *h, u16 type, struct task_struct *task)
{
	h->ts_ns = bpf_ktime_get_ns();
	h->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
	h->tgid = task->tgid;
	h->pid = task->pid;
	struct pid *pid = task->group_leader->thread_pid;
	unsigned int level = pid->level;
	u32 nr = 0;
	/* numbers[] is a flexible array: constant indices are direct loads; deeper nesting is read
	 * through probe reads, whose pointers are plain numbers to the verifier (older verifiers, 6.1,
	 * refuse a variable offset added to a BTF pointer). */
	if (level == 1)
		nr = pid->numbers[1].nr;
	else if (level == 0)
		nr = pid->numbers[0].nr;
	else if (level == 2)
		nr = pid->numbers[2].nr;
	else
		nr = bw_task_ns_tgid(task);
	h->ns_tgid = nr;
	h->type = type;
	h->flags = task->thread_pid->level == 0 ? BW_HDR_HOST : 0;
	h->_pad = 0;
	u64 *comm = (u64 *)h->comm;
	comm[0] = *(u64 *)&task->comm[0];
	comm[1] = *(u64 *)&task->comm[8];
}

/* ---------------------------------------------------------------------------------------------
 * Ring buffers with lost-event counters
 *
 * BW_RINGBUF(name, bytes) declares the ring buffer `name`, its per-CPU drop counter `name_lost`
 * and its consumer flag `name_idle`; userspace finds both by that naming convention. Records are
 * submitted without a wakeup (a wakeup per record is ~8x slower on syscall-heavy loads) and the
 * consumer drains on a timer; once the buffer is fuller than 1/BW_WAKEUP_FRACTION we force a
 * wakeup so a burst does not overflow while the consumer sleeps. A consumer that found nothing
 * for a while sets `name_idle` and stops its timer: records are then submitted with flags 0, and
 * the kernel wakes it for the first record after it caught up (the record at its position), so
 * an idle ring costs no wakeups and the first record after a quiet spell is not held for a timer
 * tick. The consumer clears the flag when woken.
 * ------------------------------------------------------------------------------------------- */

#define BW_WAKEUP_FRACTION 4

/* Slots of `name_lost`: [BW_LOST_ALL] every lost record; [BW_LOST_WITH_ROOM] those of them that
 * BW_RESERVE could not reserve although the buffer had room for the record when checked right
 * after the failure. Those were not lost to a slow consumer but to the reserve itself failing
 * (since 6.15 the buffer's lock is a resilient spinlock that gives up under contention or on a
 * suspected deadlock; in NMI context the lock is only tried; a record still being written a
 * whole ring back blocks reserves too). A consumer drain between the failure and the check can
 * move a few full-buffer losses into this slot: it is a diagnosis, not an exact split.
 * BW_COUNT_LOST (bpf_ringbuf_output failures and other drop paths) counts in slot 0 only. */
#define BW_LOST_ALL 0
#define BW_LOST_WITH_ROOM 1

#define BW_RINGBUF(name, bytes)                                                                     \
	struct {                                                                                    \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                 \
		__uint(max_entries, bytes);                                                         \
	} name SEC(".maps");                                                                        \
	struct {                                                                                    \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                            \
		__uint(max_entries, 2);                                                             \
		__type(key, u32);                                                                   \
		__type(value, u64);                                                                 \
	} name##_lost SEC(".maps");                                                                 \
	struct {                                                                                    \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                   \
		__uint(max_entries, 1);                                                             \
		__type(key, u32);                                                                   \
		__type(value, u32);                                                                 \
	} name##_idle SEC(".maps")

static __always_inline void bw_count_lost_slot(void *lost, u32 slot)
{
	u64 *cnt = bpf_map_lookup_elem(lost, &slot);
	if (cnt)
		(*cnt)++;
}

/* Reserve `size` bytes in ring buffer `rb`; on failure count one lost event in `lost` (and in
 * its with-room slot when the buffer had room: the record takes size + its 8-byte header, rounded
 * up to 8, and the kernel keeps the producer less than the ring size ahead of the consumer) and
 * evaluate to NULL. */
#define BW_RESERVE(rb, lost, size)                                                                  \
	({                                                                                          \
		void *__rec = bpf_ringbuf_reserve(&rb, size, 0);                                    \
		if (!__rec) {                                                                       \
			bw_count_lost_slot(&lost, BW_LOST_ALL);                                     \
			if (bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) + (((size) + 8 + 7) & ~7) <   \
			    bpf_ringbuf_query(&rb, BPF_RB_RING_SIZE))                               \
				bw_count_lost_slot(&lost, BW_LOST_WITH_ROOM);                       \
		}                                                                                   \
		__rec;                                                                              \
	})

/* Count one lost event (for bpf_ringbuf_output failures and other drop paths). */
#define BW_COUNT_LOST(lost) bw_count_lost_slot(&lost, BW_LOST_ALL)

/* Below the fill threshold: no wakeup, unless the consumer said it is idle (`name_idle`); then
 * flags 0, with which the kernel wakes it only if this record is the one it waits for. */
static __always_inline u64 bw_below_threshold_flags(void *idle_map)
{
	u32 zero = 0;
	u32 *idle = bpf_map_lookup_elem(idle_map, &zero);
	return idle && *idle ? 0 : BPF_RB_NO_WAKEUP;
}

/* Wakeup flag for a submit: forced past the fill threshold, see bw_below_threshold_flags below it. */
#define BW_WAKEUP_FLAGS(rb)                                                                         \
	(bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >                                                \
			 bpf_ringbuf_query(&rb, BPF_RB_RING_SIZE) / BW_WAKEUP_FRACTION                  \
		 ? BPF_RB_FORCE_WAKEUP                                                              \
		 : bw_below_threshold_flags(&rb##_idle))

#define BW_SUBMIT(rb, rec) bpf_ringbuf_submit(rec, BW_WAKEUP_FLAGS(rb))

#endif /* BOXWATCH_COMMON_H */
