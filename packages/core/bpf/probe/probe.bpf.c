// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Feature probes: one trivial program per hook type. The probe loader enables exactly one program
 * at a time, loads and attaches it, and reads success or the errno as the answer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} probe_jmp SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(probe_tp_btf, struct pt_regs *regs, long id) { return 0; }

SEC("raw_tp/sys_enter")
int probe_raw_tp(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_getpid")
int probe_tracepoint(void *ctx) { return 0; }

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(probe_kprobe) { return 0; }

SEC("kprobe.multi/do_sys_openat2")
int BPF_KPROBE(probe_kprobe_multi) { return 0; }

SEC("fentry/do_sys_openat2")
int BPF_PROG(probe_fentry) { return 0; }

/* BPF LSM: loads only with CONFIG_BPF_LSM, attaches only when bpf is in the active lsm= list. */
SEC("lsm/file_open")
int BPF_PROG(probe_lsm, struct file *file, int ret) { return ret; }

static long loop_body(u32 i, void *ctx) { return 0; }

SEC("tp_btf/sys_enter")
int BPF_PROG(probe_bpf_loop, struct pt_regs *regs, long id)
{
	bpf_loop(4, loop_body, NULL, 0);
	return 0;
}

/* Tail calls: the caller jumps into probe_tail_target through probe_jmp[0]. */
SEC("tp_btf/sys_enter")
int BPF_PROG(probe_tail_target, struct pt_regs *regs, long id) { return 0; }

SEC("tp_btf/sys_enter")
int BPF_PROG(probe_tail_caller, struct pt_regs *regs, long id)
{
	bpf_tail_call(ctx, &probe_jmp, 0);
	return 0;
}
