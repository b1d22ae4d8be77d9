/*
 * lockassert.h — lock contracts a debug build checks (FreeBSD's
 * INP_WLOCK_ASSERT, SQLite's assert(sqlite3_mutex_held())).
 *
 *   US_ASSERT_LOCKED(&mutex)     the calling thread holds this mutex
 *   US_ASSERT_UNLOCKED(&mutex)   the calling thread does not hold it
 *   US_ASSERT_WLOCKED(&rwlock)   the calling thread holds it for writing
 *
 * A function that requires a lock says so at its entry with one of these.
 * They are checked when US_DEBUG_LOCKS is defined: `make DEBUG_LOCKS=1`,
 * the default for SANITIZE= builds and for the unit tests (which link a
 * checked copy of the library, see GNUmakefile). A plain `make` (what the
 * tools, the network tests and `make bench` use) compiles them out. A
 * broken contract prints the lock expression, file, line and function on
 * stderr and aborts.
 *
 * How: glibc records in every mutex the kernel thread id of its owner
 * (__data.__owner, set by lock and by a condition wait's relock, for all
 * mutex kinds but elided ones, which we never ask for) and in an rwlock
 * the writer's (__data.__cur_writer); the check compares it with the
 * calling thread's id. A reader of an rwlock is not recorded, so read
 * holds cannot be asserted. With another C library the checks are no-ops.
 */
#ifndef US_LOCKASSERT_H
#define US_LOCKASSERT_H

#include <pthread.h>

#if defined(US_DEBUG_LOCKS) && defined(__GLIBC__)

void us_lock_assert_fail(const char *what, const char *expr, const char *file, int line,
			 const char *func);
int us_lock_tid(void);

/* Relaxed atomic reads: another thread may be changing the field. */
#define US_MUTEX_OWNER_(m) __atomic_load_n(&(m)->__data.__owner, __ATOMIC_RELAXED)
#define US_RW_WRITER_(rw) __atomic_load_n(&(rw)->__data.__cur_writer, __ATOMIC_RELAXED)

#define US_ASSERT_LOCKED(m)                                                          \
	do {                                                                         \
		if (US_MUTEX_OWNER_(m) != us_lock_tid())                             \
			us_lock_assert_fail("not held", #m, __FILE__, __LINE__, __func__); \
	} while (0)
#define US_ASSERT_UNLOCKED(m)                                                        \
	do {                                                                         \
		if (US_MUTEX_OWNER_(m) == us_lock_tid())                             \
			us_lock_assert_fail("held", #m, __FILE__, __LINE__, __func__); \
	} while (0)
#define US_ASSERT_WLOCKED(rw)                                                        \
	do {                                                                         \
		if (US_RW_WRITER_(rw) != us_lock_tid())                              \
			us_lock_assert_fail("not write-held", #rw, __FILE__, __LINE__, __func__); \
	} while (0)

#else

#define US_ASSERT_LOCKED(m) ((void)0)
#define US_ASSERT_UNLOCKED(m) ((void)0)
#define US_ASSERT_WLOCKED(rw) ((void)0)

#endif

#endif
