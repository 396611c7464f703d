// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A program the verifier must reject (reads a hash map value without a NULL check; array
 * lookups with a constant key are proven non-NULL by recent verifiers): the binding's
 * tests check that the verifier log reaches the error. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} arr SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(unchecked_lookup, struct pt_regs *regs, long id)
{
	u32 key = 0;
	u64 *v = bpf_map_lookup_elem(&arr, &key);
	return *v; /* no NULL check: rejected */
}
