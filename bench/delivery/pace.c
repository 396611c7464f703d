// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pace RATE TOTAL THREADS: issue TOTAL getppid(2) syscalls spread over THREADS threads at RATE
 * syscalls per second in total, in bursts on a 1 ms grid (absolute-time sleeps, so the schedule
 * does not drift). A thread that falls behind catches up flat out, so when the machine cannot
 * reach RATE the achieved rate is the most it can do. Prints {"seconds":..,"syscalls":..}.
 *
 * The delivery benchmark's loss-free rate sweep offers each consumer the same paced load: the
 * rate at which a consumer starts losing records is then a property of the consumer, not of how
 * much CPU the unpaced producers leave it.
 *
 * Built static (the benchmark container is busybox): cc -O2 -static -pthread pace.c
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double rate_per_thread;
static long per_thread;

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static void *run(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	double owed = 0;
	long done = 0;
	while (done < per_thread) {
		owed += rate_per_thread / 1000.0;
		long burst = (long)owed;
		owed -= (double)burst;
		if (burst > per_thread - done)
			burst = per_thread - done;
		for (long i = 0; i < burst; i++)
			syscall(SYS_getppid);
		done += burst;
		add_ns(&next, 1000000L);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s RATE TOTAL THREADS\n", argv[0]);
		return 2;
	}
	double rate = atof(argv[1]);
	long total = atol(argv[2]);
	int threads = atoi(argv[3]);
	if (rate <= 0 || total <= 0 || threads <= 0 || threads > 64) {
		fprintf(stderr, "pace: RATE, TOTAL and THREADS (1..64) must be positive\n");
		return 2;
	}
	rate_per_thread = rate / threads;
	per_thread = total / threads;

	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	pthread_t tid[64];
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tid[i], NULL, run, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("{\"seconds\":%.6f,\"syscalls\":%ld}\n", secs, per_thread * threads);
	return 0;
}
