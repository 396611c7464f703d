/*
 * Loads counting.bpf.o and attaches ONE program (argv[2]: "empty" or "counter"), prints "ready",
 * and on SIGTERM prints {"keys":..,"total":..} read from the counter map (a sanity check that the
 * counter saw the workload).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct count_key { unsigned long long cgroup_id; unsigned int tgid, syscall; };

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: %s <obj> empty|counter\n", argv[0]); return 2; }
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) { perror("open"); return 1; }
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj) bpf_program__set_autoload(p, strcmp(bpf_program__name(p), argv[2]) == 0);
	if (bpf_object__load(obj)) { perror("load"); return 1; }
	struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, argv[2]));
	if (!link) { perror("attach"); return 1; }
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop) pause();
	int fd = bpf_object__find_map_fd_by_name(obj, "counts");
	struct count_key k, next, *prev = NULL;
	unsigned long long v, keys = 0, total = 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &v) == 0) { keys++; total += v; }
		k = next;
		prev = &k;
	}
	printf("{\"keys\":%llu,\"total\":%llu}\n", keys, total);
	fflush(stdout);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
