/* Set a `const volatile` global (in .rodata) of an opened, not yet loaded, bpf_object by name. */
#ifndef BENCH_RODATA_H
#define BENCH_RODATA_H
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/btf.h>

static int set_rodata_u64(struct bpf_object *obj, const char *name, unsigned long long value)
{
	struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map = NULL, *m;
	bpf_object__for_each_map(m, obj) {
		const char *n = bpf_map__name(m);
		size_t l = strlen(n);
		if (l >= 7 && strcmp(n + l - 7, ".rodata") == 0)
			map = m;
	}
	if (!btf || !map)
		return -1;
	int sec = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (sec < 0)
		return -1;
	const struct btf_type *t = btf__type_by_id(btf, sec);
	const struct btf_var_secinfo *vs = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, v->name_off), name) != 0)
			continue;
		size_t size;
		const void *cur = bpf_map__initial_value(map, &size);
		if (!cur || vs->offset + sizeof(value) > size || vs->size != sizeof(value))
			return -1;
		char copy[size];
		memcpy(copy, cur, size);
		memcpy(copy + vs->offset, &value, sizeof(value));
		return bpf_map__set_initial_value(map, copy, size);
	}
	return -1;
}
#endif
