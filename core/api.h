/*
 * api.h — what every public call does on the way in and out.
 *
 * Cancellation (doc/API.md, "Threads, cancellation and stop"): a public
 * call takes locks (socket, interface transmit, ARP, ...) and may reach a
 * cancellation point while holding them (pthread_cond_wait, a log line's
 * fprintf, a backend's write). A thread cancelled there would leave the
 * locks held and the whole stack would deadlock. So every public call
 * disables cancellation on entry and restores the caller's state when it
 * returns, with no lock held any more. The calls that are cancellation
 * points in POSIX (connect, accept, send, recv, poll, close: US_API_POINT)
 * then act on a cancellation that arrived meanwhile, with
 * pthread_testcancel(), as glibc's recv does after its system call:
 * the call's work is done (its data consumed), then the thread exits.
 * The others (US_API_CALL) leave a pending cancellation to the caller's
 * next cancellation point.
 *
 * Both declare a guard variable whose cleanup (GCC/Clang's cleanup
 * attribute) runs on every return path, after the return value has been
 * computed and every lock released. Nested public calls (the resolver
 * uses sockets) are harmless: the inner one sees cancellation disabled
 * and restores it disabled.
 *
 * US_API_LIVE(st, fail): after us_stack_stop the call fails with
 * ESHUTDOWN (doc/API.md); fail is what the function returns then (-1, or
 * EAI_SYSTEM for the resolver).
 */
#ifndef US_API_H
#define US_API_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct us_api_guard {
	int state;              /* the caller's cancel state */
	bool point;             /* a cancellation point: test on the way out */
};

static inline struct us_api_guard us_api_enter(bool point)
{
	struct us_api_guard g = { PTHREAD_CANCEL_DISABLE, point };
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &g.state);
	return g;
}

static inline void us_api_leave(struct us_api_guard *g)
{
	if (g->state == PTHREAD_CANCEL_DISABLE)
		return;
	int e = errno;
	pthread_setcancelstate(g->state, NULL);
	if (g->point)
		pthread_testcancel();
	errno = e;
}

/* unused: only its cleanup matters (clang warns about it otherwise). */
#define US_API_GUARD(point)                                                   \
	struct us_api_guard us_api_guard_                                      \
		__attribute__((cleanup(us_api_leave), unused)) = us_api_enter(point)
#define US_API_CALL()  US_API_GUARD(false)
#define US_API_POINT() US_API_GUARD(true)

#define US_API_LIVE(st, fail)                                                 \
	do {                                                                   \
		if (atomic_load(&(st)->stopping)) {                            \
			errno = ESHUTDOWN;                                     \
			return (fail);                                         \
		}                                                              \
	} while (0)

#endif
