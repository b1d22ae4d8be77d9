/*
 * lockassert.c — the out-of-line half of core/lockassert.h: the calling
 * thread's id, and the report when a lock contract is broken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "lockassert.h"

#if defined(US_DEBUG_LOCKS) && defined(__GLIBC__)

/* The calling thread's kernel id, cached; a forked child forgets it. */
static _Thread_local int cached_tid;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_tid(void)
{
	cached_tid = 0;
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_tid);
}

int us_lock_tid(void)
{
	if (!cached_tid) {
		pthread_once(&atfork_once, register_atfork);
		cached_tid = (int)gettid();
	}
	return cached_tid;
}

void us_lock_assert_fail(const char *what, const char *expr, const char *file, int line,
			 const char *func)
{
	flockfile(stderr);
	fprintf(stderr, "ustack: lock contract broken: %s %s by this thread at %s:%d (%s)\n",
		expr, what, file, line, func);
	funlockfile(stderr);
	abort();
}

#else

/* ISO C forbids an empty translation unit. */
typedef int us_lockassert_unused;

#endif
