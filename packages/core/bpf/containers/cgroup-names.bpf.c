// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The kernel names the container: every cgroup of the default hierarchy gets its kernfs name (and
 * its two ancestors') recorded in bw_cgroup_names, keyed by the id that bpf_get_current_cgroup_id()
 * and the record headers carry, when it is created (cgroup_mkdir) or when a container task forks
 * or execs in it (cgroups that existed before we loaded). Userspace resolves a cgroup id it cannot
 * map from the runtime or cgroupfs through this table, so a container that started and exited
 * (its cgroup removed) before userspace looked is still named by the id the runtime gave it.
 *
 * Two variants share the helpers: tp_btf programs and raw_tracepoint programs (older kernels).
 * The helpers use probe reads throughout: these hooks fire per cgroup creation, fork and exec,
 * not per syscall, so direct BTF loads would not buy anything measurable.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "boxwatch/common.h"
#include "cgroup-names.h"

BW_EXPORT_STRUCT(bw_cgroup_name_entry);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192); /* userspace may resize before load (cgroupNames.maxEntries) */
	__type(key, u64);
	__type(value, struct bw_cgroup_name_entry);
} bw_cgroup_names SEC(".maps");

/* Scratch value: the entry is too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct bw_cgroup_name_entry);
} bw_cgroup_names_scratch SEC(".maps");

/* [0] entries recorded, [1] inserts that failed (map update errors) */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} bw_cgroup_names_stats SEC(".maps");

/* kernfs_node's parent pointer was renamed to __parent in 6.15 (RCU-protected). */
struct kernfs_node___pre615 {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *bw_kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___pre615 *)kn, parent);
}

static __always_inline void bw_count(u32 slot)
{
	u64 *n = bpf_map_lookup_elem(&bw_cgroup_names_stats, &slot);
	if (n)
		(*n)++;
}

/* Record the default-hierarchy cgroup `cgrp` unless it is already known. `task`, when given, also
 * contributes the name of its v1 memory cgroup. */
static __always_inline void bw_record_cgroup(struct cgroup *cgrp, struct task_struct *task, u32 source)
{
	struct kernfs_node *kn = BPF_CORE_READ(cgrp, kn);
	if (!kn)
		return;
	u64 id = BPF_CORE_READ(kn, id);
	if (bpf_map_lookup_elem(&bw_cgroup_names, &id))
		return;
	u32 zero = 0;
	struct bw_cgroup_name_entry *e = bpf_map_lookup_elem(&bw_cgroup_names_scratch, &zero);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_ns();
	e->source = source;
	e->level = BPF_CORE_READ(cgrp, level);
	struct kernfs_node *cur = kn;
	for (int i = 0; i < BW_CGROUP_NAME_LEVELS; i++) {
		e->dfl[i][0] = 0;
		if (!cur)
			continue;
		const char *name = BPF_CORE_READ(cur, name);
		if (bpf_probe_read_kernel_str(e->dfl[i], BW_CGROUP_NAME_LEN, name) < 0)
			e->dfl[i][0] = 0;
		cur = bw_kn_parent(cur);
	}
	e->v1[0] = 0;
	if (task) {
		int memory_id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		if (bw_read_cgroup_v1_name(task, memory_id, e->v1, BW_CGROUP_NAME_LEN) < 0)
			e->v1[0] = 0;
	}
	if (bpf_map_update_elem(&bw_cgroup_names, &id, e, BPF_NOEXIST) == 0)
		bw_count(0);
	else if (!bpf_map_lookup_elem(&bw_cgroup_names, &id))
		bw_count(1); /* not a lost race with another CPU: the update itself failed */
}

/* cgroup_mkdir fires for every hierarchy; only the default one's ids are what headers carry
 * (hierarchy 0, the `0::` line of /proc/<pid>/cgroup). */
static __always_inline void bw_on_mkdir(struct cgroup *cgrp)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return;
	bw_record_cgroup(cgrp, NULL, BW_CGN_MKDIR);
}

/* A container task forked or exec'd: make sure its cgroup is known. Host tasks are skipped (the
 * container test of every plugin) so the cost on the host is one pid-namespace load. */
static __always_inline void bw_on_task(struct task_struct *task, u32 source)
{
	if (!bw_is_container_task(task))
		return;
	struct cgroup *cgrp = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (cgrp)
		bw_record_cgroup(cgrp, task, source);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cgn_mkdir, struct cgroup *cgrp, const char *path)
{
	bw_on_mkdir(cgrp);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(cgn_fork, struct task_struct *parent, struct task_struct *child)
{
	bw_on_task(child, BW_CGN_FORK);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(cgn_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	bw_on_task(p, BW_CGN_EXEC);
	return 0;
}

SEC("raw_tracepoint/cgroup_mkdir")
int cgn_mkdir_raw(struct bpf_raw_tracepoint_args *ctx)
{
	bw_on_mkdir((struct cgroup *)ctx->args[0]);
	return 0;
}

SEC("raw_tracepoint/sched_process_fork")
int cgn_fork_raw(struct bpf_raw_tracepoint_args *ctx)
{
	bw_on_task((struct task_struct *)ctx->args[1], BW_CGN_FORK);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int cgn_exec_raw(struct bpf_raw_tracepoint_args *ctx)
{
	bw_on_task((struct task_struct *)ctx->args[0], BW_CGN_EXEC);
	return 0;
}
