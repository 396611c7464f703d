/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records of the fileopen plugin. Fixed-width types only: read by the BPF compiler and, through
 * the BTF of the built object, by the layout generator (src/generated/layout.ts).
 */
#ifndef BOXWATCH_FILEOPEN_H
#define BOXWATCH_FILEOPEN_H

#include "boxwatch/event.h"

#define FO_RECORD_OPEN 1 /* bw_event_header.type of a file_open_record */

#define FO_PATH_MAX 4096  /* bytes of path a record can carry, NUL included */
#define FO_FS_LEN 16      /* file_system_type name; longest in-tree names fit */
#define FO_PREFIX_MAX 64  /* deny-prefix bytes matched in the kernel (LPM trie key) */

/* file_open_record.source */
#define FO_SRC_FILE 1 /* path resolved from the opened struct file (mount-aware walk) */
#define FO_SRC_ARG 2  /* path argument as passed by the caller (failed opens) */

/* file_open_record.status bits */
#define FO_ST_TRUNCATED 0x1 /* path is incomplete: deeper than max_depth or longer than FO_PATH_MAX */

/* deny-prefix actions (value of the deny_prefixes LPM trie) */
#define FO_DENY_READS 0x1  /* drop read-only opens whose path starts with the prefix */
#define FO_DENY_WRITES 0x2 /* drop writing opens (write access, O_CREAT, O_TRUNC) */
#define FO_ALLOW 0x4       /* a longer prefix that re-allows under a denied one */

/*
 * One open. Variable length: only path_len + 1 bytes of `path` are sent, so userspace must use
 * path_len, never the full array size.
 */
struct file_open_record {
	struct bw_event_header hdr;
	__s64 ret;          /* fd or negative errno (kretprobe variant: 0 on success) */
	__u32 raw_flags;    /* open flags as passed */
	__u32 mode;         /* create mode as passed (0 unless O_CREAT / O_TMPFILE) */
	__u16 path_len;     /* bytes of path, NUL excluded */
	__u8 source;        /* FO_SRC_* */
	__u8 status;        /* FO_ST_* */
	__u32 depth;        /* path components walked */
	char fs[FO_FS_LEN]; /* filesystem type name, empty for failed opens */
	char path[FO_PATH_MAX];
};

/* Runtime switches (array map `fo_config`, key 0), changed by userspace while running. */
struct fileopen_config {
	__u8 only_writes;    /* report only opens that can modify: write access, O_CREAT, O_TRUNC */
	__u8 filter_cgroups; /* report only tasks whose cgroup id is in `watched_cgroups` */
	__u8 _pad[6];
};

/* Value of the deny_hint array map (key 0): bit c set when some deny/allow prefix has c as its
 * second byte (the one after the leading '/'), every bit when a prefix is just "/". A path whose
 * second byte has no bit cannot match any prefix, so the LPM lookup is skipped. */
struct deny_hint {
	__u8 second[32];
};

/* Key of the deny_prefixes LPM trie: the path's first bytes. */
struct deny_prefix_key {
	__u32 prefixlen; /* in bits */
	__u8 data[FO_PREFIX_MAX];
};

#endif /* BOXWATCH_FILEOPEN_H */
