/*
 * mallocwatch.h — does code allocate while it holds a given lock?
 *
 * The unit-test binary is linked with -Wl,--wrap=malloc,--wrap=calloc,
 * --wrap=realloc (GNUmakefile), so every malloc, calloc and realloc the
 * library makes goes through mallocwatch.c first. Between mw_watch() and
 * mw_stop(), each of them checks whether the calling thread holds one of
 * the watched mutexes (glibc records a mutex's owner thread id, as
 * core/lockassert.h reads it) and counts those that do:
 *
 *   mw_watch(&st->tcp.tw_lock, &st->tcp.syn_lock);
 *   us_stack_sockets_print(st, f);
 *   CU_ASSERT_EQUAL(mw_stop(), 0);     // nothing allocated under them
 *
 * Allocations inside the C library itself (stdio buffers) are not seen.
 * Without glibc (no owner field) nothing is ever counted; mw_works() says
 * whether the check can see anything, so a test can say it skipped.
 */
#ifndef US_TEST_MALLOCWATCH_H
#define US_TEST_MALLOCWATCH_H

#include <pthread.h>
#include <stdbool.h>

/* Start counting allocations made while holding a or b (b may be NULL). */
void mw_watch(pthread_mutex_t *a, pthread_mutex_t *b);
/* Stop; returns how many allocations were made under a watched mutex. */
unsigned long mw_stop(void);
/* Whether this build can tell (glibc); false: mw_stop() always returns 0. */
bool mw_works(void);

#endif
