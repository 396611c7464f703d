// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Connection-rate workload for the plugin-cnetwork benchmark (static: it runs in busybox):
 *   conns serve PORT                 accept and close connections forever (one thread)
 *   conns connect IP PORT N THREADS [paced]
 *                                    open and close N TCP connections to IP:PORT on THREADS
 *                                    threads; prints {"seconds":..,"connections":..,"failed":..}.
 *                                    paced: each client waits for the server's close before its
 *                                    own, so no more than THREADS connections are ever open.
 * Every connection is one net.connect in the client container and one net.accept in the server
 * container, so the plugin's event rate is known exactly.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static long per_thread;
static int paced;

static int serve(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4096)) {
		perror("conns serve");
		return 1;
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c >= 0)
			close(c);
	}
}

static void *client(void *arg)
{
	long *failed = arg;
	struct linger l = { .l_onoff = 1, .l_linger = 0 }; /* RST on close: no TIME_WAIT pile-up */
	for (long i = 0; i < per_thread; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		if (connect(s, (struct sockaddr *)&target, sizeof(target)) != 0)
			(*failed)++;
		else if (paced)
			while (read(s, &(char){ 0 }, 1) > 0)
				; /* until the server's FIN */
		close(s);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if (argc < 6 || argc > 7 || strcmp(argv[1], "connect") || (argc == 7 && strcmp(argv[6], "paced"))) {
		fprintf(stderr, "usage: %s serve PORT | connect IP PORT N THREADS [paced]\n", argv[0]);
		return 2;
	}
	paced = argc == 7;
	target.sin_family = AF_INET;
	target.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &target.sin_addr) != 1) {
		fprintf(stderr, "conns: bad IPv4 address %s\n", argv[2]);
		return 2;
	}
	int threads = atoi(argv[5]);
	if (threads < 1 || threads > 64) {
		fprintf(stderr, "conns: THREADS must be 1..64\n");
		return 2;
	}
	per_thread = atol(argv[4]) / threads;
	pthread_t tid[64];
	long failed[64] = { 0 };
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, client, &failed[i]);
	long nfailed = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		nfailed += failed[i];
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("{\"seconds\":%.6f,\"connections\":%ld,\"failed\":%ld}\n", secs, per_thread * threads, nfailed);
	return 0;
}
