/*
 * test_socktab.c — the descriptor table (suite "socktab"): its size comes
 * from stack.max_sockets (up to 4,194,304; a million and more work), and
 * lookups take sharded locks, so many threads opening, using and closing
 * descriptors at once stay correct (run this suite under
 * SANITIZE=thread: the table has no race).
 *
 * UDP sockets are the cheap descriptors: no memory but the socket until
 * bound.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sockutil.h"
#include "stackutil.h"

static us_stack *open_with_max(const char *tag, uint32_t max)
{
	struct us_config cfg;
	char wire[96];
	tu_wire_name(wire, sizeof wire, tag);
	tu_config(&cfg, wire, NULL);
	cfg.max_sockets = max;
	char err[256] = "";
	us_stack *st = us_stack_new(&cfg, US_STACK_DETERMINISTIC, err, sizeof err);
	if (!st)
		fprintf(stderr, "socktab: us_stack_new: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL(st);
	return st;
}

/* The key parses with its range: 1,000,000 is allowed, beyond the maximum is not. */
static void test_max_sockets_config_key(void)
{
	struct us_config cfg;
	char err[256];
#define ETH0 "interfaces:\n  eth0: {backend: tap, device: tap0, addresses: [10.0.0.2/24]}\n"
	const char *ok = "stack:\n  max_sockets: 1000000\n" ETH0;
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", ok, strlen(ok), &cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.max_sockets, 1000000);
	const char *dflt = "stack:\n  log_level: info\n" ETH0;
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", dflt, strlen(dflt), &cfg, err, sizeof err), 0);
	CU_ASSERT_EQUAL(cfg.max_sockets, 16384);
	const char *big = "stack:\n  max_sockets: 5000000\n" ETH0;
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", big, strlen(big), &cfg, err, sizeof err), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.yaml:2:16"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "max_sockets"));
}

/*
 * With max_sockets 1,000,000, 70,000 descriptors (beyond 65,536 and the
 * old fixed 16,384) are handed out lowest first and all work.
 */
static void test_max_sockets_million_allows_70000(void)
{
	us_stack *st = open_with_max(__func__, 1000000);
	if (!st)
		return;
	enum { N = 70000 };
	int bad = 0;
	for (int i = 0; i < N; i++) {
		int fd = us_socket(st, AF_INET, SOCK_DGRAM, 0);
		bad += fd != i;
	}
	CU_ASSERT_EQUAL(bad, 0);
	int v = 0;
	socklen_t l = sizeof v;
	CU_ASSERT_EQUAL(us_getsockopt(st, N - 1, SOL_SOCKET, SO_TYPE, &v, &l), 0);
	CU_ASSERT_EQUAL(v, SOCK_DGRAM);
	struct sockaddr_in a = su_sin(0, 7000);
	CU_ASSERT_EQUAL(us_bind(st, 66000, SU_SA(a), sizeof a), 0);
	CU_ASSERT_EQUAL(us_close(st, 40000), 0);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 40000);  /* lowest free */
	SU_ERR(us_getsockopt(st, 1000000, SOL_SOCKET, SO_TYPE, &v, &l), EBADF);
	us_stack_free(st);      /* closes the 70,000 */
}

/* A small limit: EMFILE past it, as a process past RLIMIT_NOFILE. */
static void test_max_sockets_small_limit_emfile(void)
{
	us_stack *st = open_with_max(__func__, 100);
	if (!st)
		return;
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), i);
	SU_ERR(us_socket(st, AF_INET, SOCK_DGRAM, 0), EMFILE);
	SU_ERR(us_close(st, 100), EBADF);
	CU_ASSERT_EQUAL(us_close(st, 7), 0);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 7);
	us_stack_free(st);
}

/* ---- many threads at once ---- */

#define THREADS 4
#define ROUNDS  3000

struct worker {
	us_stack *st;
	int id;
	int own_errors;         /* a descriptor of ours that did not work */
	uint64_t rng;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	int mine[8];
	for (int r = 0; r < ROUNDS; r++) {
		for (int k = 0; k < 8; k++) {
			mine[k] = us_socket(w->st, AF_INET, SOCK_DGRAM, 0);
			if (mine[k] < 0)
				w->own_errors++;
		}
		for (int k = 0; k < 8; k++) {
			int v = 0;
			socklen_t l = sizeof v;
			if (mine[k] >= 0 &&
			    (us_getsockopt(w->st, mine[k], SOL_SOCKET, SO_TYPE, &v, &l) < 0 ||
			     v != SOCK_DGRAM))
				w->own_errors++;
			/* Someone else's, perhaps being closed right now: any answer
			 * but a crash (or a race report) is right. */
			w->rng = w->rng * 6364136223846793005ULL + 1442695040888963407ULL;
			int other = (int)((w->rng >> 33) % (THREADS * 8 + 8));
			us_getsockopt(w->st, other, SOL_SOCKET, SO_TYPE, &v, &l);
		}
		for (int k = 0; k < 8; k++)
			if (mine[k] >= 0 && us_close(w->st, mine[k]) < 0)
				w->own_errors++;
	}
	return NULL;
}

/*
 * 4 threads x 3,000 rounds of: open 8 descriptors, use them and poke at
 * others', close them. Every descriptor a thread got works for it until
 * it closes it, and at the end none is left.
 */
static void test_socktab_concurrent_open_use_close(void)
{
	us_stack *st = open_with_max(__func__, 1000);
	if (!st)
		return;
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .st = st, .id = i, .rng = (uint64_t)i + 1 };
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	int errors = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		errors += w[i].own_errors;
	}
	CU_ASSERT_EQUAL(errors, 0);
	CU_ASSERT_EQUAL(us_socket(st, AF_INET, SOCK_DGRAM, 0), 0);     /* all were closed */
	us_stack_free(st);
}

US_SUITE(socktab, NULL, NULL,
	 US_TEST(test_max_sockets_config_key),
	 US_TEST(test_max_sockets_million_allows_70000),
	 US_TEST(test_max_sockets_small_limit_emfile),
	 US_TEST(test_socktab_concurrent_open_use_close));
