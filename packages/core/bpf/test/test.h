/* Records of the binding's test program (core's own tests only). */
#ifndef BOXWATCH_TEST_H
#define BOXWATCH_TEST_H

#include "boxwatch/event.h"

struct test_record {
	struct bw_event_header hdr;
	__u64 seq;   /* per-CPU sequence number, starts at 1 */
	__u64 magic; /* the `magic` rodata value set before load */
	__u32 cpu;
	__u32 syscall;
	struct bw_event_header hdr_btf; /* the same header filled by bw_fill_header_btf */
};

#endif
