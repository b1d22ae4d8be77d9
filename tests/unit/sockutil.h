/*
 * sockutil.h — helpers for the socket and UDP tests (test_socket.c,
 * test_udp.c, test_socket_threads.c), on top of stackutil.h.
 *
 * A "stack pair" is two stacks on one pair wire: A (10.0.0.1, MAC
 * tu_stack_mac) and B (10.0.0.2, MAC tu_peer_mac), both /24, with real ARP
 * between them. Deterministic pairs run on virtual clocks that su_run()
 * moves forward in lockstep; threaded pairs (flags 0) run their own
 * receive and timer threads on the real clock.
 *
 * Leaks: su_close() asserts that every packet buffer of both stacks is
 * back in its pool (after stopping threaded stacks).
 *
 * Internals: su_has_waiter() / su_has_poller() look inside a socket (under
 * its lock) to tell whether a thread is blocked on it, so that threaded
 * tests wait for a condition rather than sleep.
 */
#ifndef US_TEST_SOCKUTIL_H
#define US_TEST_SOCKUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "stackutil.h"

#define SU_A_IP TU_STACK_IP     /* 10.0.0.1 */
#define SU_B_IP TU_PEER_IP      /* 10.0.0.2 */

struct su_pair {
	us_stack *a, *b;
	bool threaded;
	char wire[96];
};

/*
 * Open A and B on a fresh wire named after tag. flags: US_STACK_DETERMINISTIC
 * (then us_stack_up() both) or 0 (threaded: us_stack_start() both).
 * Asserts on failure and returns false.
 */
bool su_open_tag(struct su_pair *p, unsigned flags, const char *tag);
#define su_open(p, flags) su_open_tag((p), (flags), __func__)
/* Deterministic pairs: advance both clocks by ns in lockstep steps of at most 1 ms. */
void su_run(struct su_pair *p, uint64_t ns);
/* Stop (threaded), assert no leaked buffers in either stack, free both. */
void su_close(struct su_pair *p);

/* An AF_INET address; ip in network order, port in host order. */
struct sockaddr_in su_sin(uint32_t ip, uint16_t port);
#define SU_SA(x) ((struct sockaddr *)&(x))
#define SU_CSA(x) ((const struct sockaddr *)&(x))

/* A UDP socket bound to ip:port (host-order port; 0 = ephemeral); asserts, -1 on failure. */
int su_udp(us_stack *st, uint32_t ip, uint16_t port);
/* The socket's local port (host order), via us_getsockname; 0 on failure. */
uint16_t su_port(us_stack *st, int fd);
/* sendto ip:port (host-order port); returns what us_sendto returned. */
ssize_t su_sendto(us_stack *st, int fd, const void *buf, size_t len, uint32_t ip, uint16_t port);

/*
 * SU_ERR(call, e): call returns -1 with errno e. SU_OK(call): call returns
 * >= 0. Both print the call, what it returned and errno when they fail.
 */
void su_check_err(long r, int got, int want, const char *expr, const char *file, int line);
void su_check_ok(long r, int got, const char *expr, const char *file, int line);
#define SU_ERR(call, e)                                                        \
	do {                                                                   \
		errno = 0;                                                     \
		long su_r_ = (long)(call);                                     \
		int su_e_ = errno;                                             \
		su_check_err(su_r_, su_e_, (e), #call, __FILE__, __LINE__);    \
	} while (0)
#define SU_OK(call)                                                            \
	do {                                                                   \
		errno = 0;                                                     \
		long su_r_ = (long)(call);                                     \
		int su_e_ = errno;                                             \
		su_check_ok(su_r_, su_e_, #call, __FILE__, __LINE__);          \
	} while (0)

/* CLOCK_MONOTONIC in ns (the test's own reading, not the stack's clock). */
uint64_t su_mono_ns(void);
/* Is a thread blocked on the socket's condition variable (us_recv and friends)? */
bool su_has_waiter(us_stack *st, int fd);
/* Is a thread's us_poll() registered on the socket? */
bool su_has_poller(us_stack *st, int fd);
/*
 * Wait up to timeout_ms for pred(arg) to hold, checking every millisecond;
 * true if it did. This is a bounded wait on a condition, never a sleep
 * standing in for one.
 */
bool su_wait_for(bool (*pred)(void *), void *arg, int timeout_ms);
/* su_wait_for() on su_has_waiter() / su_has_poller(). */
bool su_wait_waiter(us_stack *st, int fd, int timeout_ms);
bool su_wait_poller(us_stack *st, int fd, int timeout_ms);

#endif
