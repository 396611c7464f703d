/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The path of a file as a task sees it, rebuilt from its (dentry, vfsmount) by a mount-aware walk:
 * d_parent inside a mount, mnt_mountpoint/mnt_parent across mounts, stop at the task's fs->root.
 * So a container's file reads as the container sees it (/etc/hostname: a bind mount; /bin/busybox:
 * inside the overlay), never as the host's /var/lib/docker/... path.
 *
 * The walk runs in bpf_loop, one step per dentry or mount crossing, not as an unrolled loop: the
 * verifier checks the step once, which keeps load time low (unrolled walks cost ~0.7 s per program
 * on the reference machine). Field loads are probe reads, so it works from any program type.
 *
 * The includer defines, before including this file:
 *   BW_PATH_MAX                 a power of two: the longest path kept, NUL included
 *   char *bw_path_buf(void)     (static __always_inline) per-CPU memory of at least
 *                               BW_PATH_MAX + 256 bytes, the same on every call, or NULL
 * and includes it after vmlinux.h and the libbpf headers. The path is written back to front into
 * that memory; bw_path_resolve() says where it starts.
 */
#ifndef BOXWATCH_PATH_WALK_H
#define BOXWATCH_PATH_WALK_H

#ifndef BW_PATH_MAX
#error "define BW_PATH_MAX (a power of two) before including boxwatch/path-walk.h"
#endif

#define BW_PATH_MASK (BW_PATH_MAX - 1)
#define BW_NAME_MASK 255 /* NAME_MAX: a dentry name is at most 255 bytes */

struct bw_path_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	u32 max_depth; /* components walked before the path is marked truncated */
	u32 pos;       /* the path so far is buf[pos, BW_PATH_MAX - 1) */
	u32 depth;     /* components written */
	u8 truncated;
	u8 done;
};

static __always_inline struct mount *bw_real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

static int bw_path_walk_step(u32 index, void *arg)
{
	struct bw_path_walk *w = arg;
	/* Copy to locals: BPF_CORE_READ on a field of bw_path_walk (our own struct) would ask for a
	 * CO-RE relocation against the kernel's BTF, which has no such struct. */
	struct dentry *d = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;

	/* The task's root (the container's /): done. */
	if (d == w->root_dentry && vfsmnt == w->root_mnt) {
		w->done = 1;
		return 1;
	}
	struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == mnt_root || d == parent) {
		struct mount *m = w->mnt;
		struct mount *up = BPF_CORE_READ(m, mnt_parent);
		/* Root of the whole mount tree, or a dentry disconnected from its mount: nothing above. */
		if (d != mnt_root || m == up) {
			w->done = 1;
			return 1;
		}
		/* Continue from the mountpoint in the parent mount; no component is written. */
		w->dentry = BPF_CORE_READ(m, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (struct vfsmount *)((void *)up + bpf_core_field_offset(struct mount, mnt));
		return 0;
	}

	if (w->depth >= w->max_depth) {
		w->truncated = 1;
		return 1;
	}
	char *buf = bw_path_buf();
	if (!buf)
		return 1;
	struct qstr q = BPF_CORE_READ(d, d_name);
	u32 len = q.len;
	/* Keep pos >= 1 so the finished path plus NUL is at most BW_PATH_MAX - 1 bytes. */
	if (len > BW_NAME_MASK || len + 2 > w->pos) {
		w->truncated = 1;
		return 1;
	}
	u32 pos = w->pos - len;
	bpf_probe_read_kernel(&buf[pos & BW_PATH_MASK], len & BW_NAME_MASK, q.name);
	pos--;
	buf[pos & BW_PATH_MASK] = '/';
	w->pos = pos;
	w->depth++;
	w->dentry = parent;
	return 0;
}

/*
 * Walk `path` (a struct path in kernel memory: a file's f_path, an mm's exe_file->f_path) up to
 * `task`'s root. Returns the path's length; it starts at buf + *start and is NUL-terminated.
 * *truncated is set when components were left out (too deep, too long, or no root reached).
 */
static __always_inline u32 bw_path_resolve(char *buf, struct task_struct *task, const struct path *path, u32 max_depth,
					   u32 *start, u32 *depth, bool *truncated)
{
	struct bw_path_walk w = {};
	w.dentry = BPF_CORE_READ(path, dentry);
	w.vfsmnt = BPF_CORE_READ(path, mnt);
	w.mnt = bw_real_mount(w.vfsmnt);
	w.root_dentry = BPF_CORE_READ(task, fs, root.dentry);
	w.root_mnt = BPF_CORE_READ(task, fs, root.mnt);
	w.max_depth = max_depth;
	w.pos = BW_PATH_MAX - 1;
	buf[BW_PATH_MAX - 1] = 0;

	/* Every component can be preceded by a mount crossing: twice max_depth steps suffice. */
	bpf_loop(max_depth * 2 + 2, bw_path_walk_step, &w, 0);
	*truncated = w.truncated || !w.done;
	u32 pos = w.pos;
	if (pos > BW_PATH_MAX - 1 || pos < 1) {
		/* Not reached (the step keeps 1 <= pos <= BW_PATH_MAX - 1); never report garbage. */
		pos = BW_PATH_MAX - 1;
		*truncated = true;
	}
	if (pos == BW_PATH_MAX - 1) {
		/* The root itself. */
		pos--;
		buf[pos & BW_PATH_MASK] = '/';
	}
	*start = pos;
	*depth = w.depth;
	return BW_PATH_MAX - 1 - pos;
}

#endif /* BOXWATCH_PATH_WALK_H */
