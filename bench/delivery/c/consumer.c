/*
 * Minimal libbpf ring-buffer consumer (the physical reference of the delivery benchmark).
 *   consumer <delivery.bpf.o> <target cgroup id>
 * Loads and attaches the producer, prints "ready", then drains like boxwatch does for no-wakeup
 * producers: epoll wait of at most 10 ms (woken early by the producer's forced wakeups), then
 * consume everything available. The callback reads the syscall field of every record. On SIGTERM
 * it drains once more and prints {"records":..,"lost":..,"checksum":..}; on SIGUSR2 it prints
 * {"snapshot":{"records":..,"lost":..}} and goes on.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../../lib/bench_rodata.h"

static volatile sig_atomic_t stop, snapshot;
static unsigned long long records, checksum;

static void on_signal(int sig) { (void)sig; stop = 1; }
static void on_snapshot(int sig) { (void)sig; snapshot = 1; }

static unsigned long long lost_total(struct bpf_object *obj)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long *lost = calloc(ncpu, sizeof(*lost)), total = 0;
	unsigned int zero = 0;
	if (bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "events_lost"), &zero, lost) == 0)
		for (int i = 0; i < ncpu; i++) total += lost[i];
	free(lost);
	return total;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= 64)
		checksum += *(unsigned long long *)((char *)data + 48);
	records++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s <obj> <cgroup id>\n", argv[0]);
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) { perror("open"); return 1; }
	if (set_rodata_u64(obj, "target_cgroup", strtoull(argv[2], NULL, 10))) { fprintf(stderr, "rodata\n"); return 1; }
	if (bpf_object__load(obj)) { perror("load"); return 1; }
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "on_sys_enter");
	struct bpf_link *link = bpf_program__attach(prog);
	if (!link) { perror("attach"); return 1; }
	struct ring_buffer *rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), on_record, NULL, NULL);
	if (!rb) { perror("ring_buffer__new"); return 1; }
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	signal(SIGUSR2, on_snapshot);
	while (!stop) {
		int n = ring_buffer__poll(rb, 10);
		if (n < 0 && n != -EINTR) break;
		ring_buffer__consume(rb);
		if (snapshot) { /* SIGUSR2: counts so far (the benchmark subtracts a warm-up phase) */
			snapshot = 0;
			printf("{\"snapshot\":{\"records\":%llu,\"lost\":%llu}}\n", records, lost_total(obj));
			fflush(stdout);
		}
	}
	ring_buffer__consume(rb);
	unsigned long long total = lost_total(obj);
	printf("{\"records\":%llu,\"lost\":%llu,\"checksum\":%llu}\n", records, total, checksum);
	fflush(stdout);
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return 0;
}
