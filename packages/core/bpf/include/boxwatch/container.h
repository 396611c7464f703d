/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Container identity from the kernel's cgroup names. Docker, containerd and podman name the
 * container's cgroup `<64hex>`, `docker-<64hex>.scope`, `cri-containerd-<64hex>.scope` or
 * `libpod-<64hex>.scope`; userspace strips the decoration (core/src/containers/cgroup-name.ts).
 *
 * On cgroup v1 the name is read from a v1 subsystem's cgroup (memory by default, the one docker
 * always creates); on v2 from the default hierarchy cgroup (css_set->dfl_cgrp).
 */
#ifndef BOXWATCH_CONTAINER_H
#define BOXWATCH_CONTAINER_H

/* Read the kernfs name of the task's cgroup v2 (default hierarchy) cgroup into buf. */
static __always_inline long bw_read_cgroup_v2_name(struct task_struct *task, char *buf, u32 size)
{
	const char *name = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, name);
	return bpf_probe_read_kernel_str(buf, size, name);
}

/* Read the kernfs name of the task's cgroup in the v1 hierarchy of subsystem `subsys_id`
 * (e.g. bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id)). */
static __always_inline long bw_read_cgroup_v1_name(struct task_struct *task, int subsys_id, char *buf, u32 size)
{
	struct css_set *cgroups = BPF_CORE_READ(task, cgroups);
	struct cgroup_subsys_state *css;
	if (subsys_id < 0 || subsys_id >= CGROUP_SUBSYS_COUNT)
		return -1;
	css = BPF_CORE_READ(cgroups, subsys[subsys_id]);
	const char *name = BPF_CORE_READ(css, cgroup, kn, name);
	return bpf_probe_read_kernel_str(buf, size, name);
}

/* The container name as the memory-controller cgroup v1 sees it, falling back to v2. */
static __always_inline long bw_read_container_cgroup_name(struct task_struct *task, char *buf, u32 size)
{
	int memory_id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	long n = bw_read_cgroup_v1_name(task, memory_id, buf, size);
	if (n > 1 && !(buf[0] == '/' && buf[1] == 0))
		return n;
	return bw_read_cgroup_v2_name(task, buf, size);
}

#endif /* BOXWATCH_CONTAINER_H */
