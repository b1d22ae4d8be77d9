/*
 * pairbench.c — the stack's own CPU per MB, without a kernel device: two
 * threaded stacks in this process on a pair wire (in-memory, no system
 * call per frame), A 10.0.0.1 sending MB megabytes over one TCP connection
 * to B 10.0.0.2, each with its receive and timer threads, plus one
 * application thread per side. What it measures is what every frame
 * costs the stacks (IP, TCP, counters, buffers, locks) and the pair
 * queue's hand-over; the process's CPU time (user + system) per MB moved
 * and the wall-clock throughput.
 *
 *   pairbench [MB] [ROUNDS]     (defaults 200, 3; prints the best round)
 *
 * Build against two library builds and run them in turn to compare a
 * change (doc/BENCHMARKS.md). Figures only, no assertion.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ustack/ustack.h"
#include "ustack/socket.h"

static us_stack *open_one(const char *wire, int b)
{
	struct us_config cfg;
	char err[256] = "";
	us_config_init(&cfg);
	cfg.log_level = US_LOG_ERROR;
	cfg.nifaces = 1;
	struct us_iface_config *ifc = &cfg.ifaces[0];
	snprintf(ifc->name, sizeof ifc->name, "eth0");
	ifc->backend = US_BACKEND_PAIR;
	snprintf(ifc->device, sizeof ifc->device, "%s", wire);
	uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(1 + b) };
	memcpy(ifc->mac, mac, 6);
	ifc->mac_set = true;
	ifc->mtu = 1500;
	ifc->addrs[0].addr.s_addr = htonl(0x0a000001u + (uint32_t)b);
	ifc->addrs[0].prefix = 24;
	ifc->naddrs = 1;
	us_stack *st = us_stack_new(&cfg, 0, err, sizeof err);
	if (!st || us_stack_start(st) < 0) {
		fprintf(stderr, "pairbench: %s\n", err);
		exit(1);
	}
	return st;
}

struct rx {
	us_stack *st;
	int lfd;
	unsigned long long got;
};

static void *rx_main(void *v)
{
	struct rx *r = v;
	int fd = us_accept(r->st, r->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	static char buf[1 << 16];
	ssize_t n;
	while ((n = us_recv(r->st, fd, buf, sizeof buf, 0)) > 0)
		r->got += (unsigned long long)n;
	us_close(r->st, fd);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	unsigned long long mb = argc > 1 ? strtoull(argv[1], NULL, 10) : 200;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	double best_cpu = 1e9, best_mbps = 0;
	for (int r = 0; r < rounds; r++) {
		char wire[64];
		snprintf(wire, sizeof wire, "pairbench-%d-%d", (int)getpid(), r);
		us_stack *a = open_one(wire, 0), *b = open_one(wire, 1);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(5001),
					   .sin_addr.s_addr = htonl(0x0a000002u) };
		struct rx rx = { .st = b, .lfd = us_socket(b, AF_INET, SOCK_STREAM, 0) };
		if (us_bind(b, rx.lfd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
		    us_listen(b, rx.lfd, 4) < 0) {
			perror("pairbench: listen");
			return 1;
		}
		pthread_t th;
		pthread_create(&th, NULL, rx_main, &rx);
		int fd = us_socket(a, AF_INET, SOCK_STREAM, 0);
		if (us_connect(a, fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
			perror("pairbench: connect");
			return 1;
		}
		static char buf[1 << 16];
		memset(buf, 'x', sizeof buf);
		unsigned long long total = mb << 20, sent = 0;
		double t0 = now_s(), c0 = cpu_s();
		while (sent < total) {
			ssize_t n = us_send(a, fd, buf, sizeof buf, 0);
			if (n <= 0) {
				perror("pairbench: send");
				return 1;
			}
			sent += (unsigned long long)n;
		}
		us_close(a, fd);
		pthread_join(th, NULL);
		double t1 = now_s(), c1 = cpu_s();
		double cpu_per_mb = (c1 - c0) * 1e6 / (double)(rx.got >> 20);
		double mbps = (double)rx.got * 8 / 1e6 / (t1 - t0);
		printf("round %d: %llu bytes, %.0f Mbit/s, %.0f us CPU per MB\n", r, rx.got, mbps,
		       cpu_per_mb);
		if (cpu_per_mb < best_cpu)
			best_cpu = cpu_per_mb;
		if (mbps > best_mbps)
			best_mbps = mbps;
		us_close(b, rx.lfd);
		us_stack_stop(a);
		us_stack_stop(b);
		us_stack_free(a);
		us_stack_free(b);
	}
	printf("RESULT pairbench mbps=%.0f cpu_us_per_mb=%.0f\n", best_mbps, best_cpu);
	return 0;
}
