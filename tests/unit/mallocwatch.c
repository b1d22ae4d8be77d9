/*
 * mallocwatch.c — the --wrap'ed allocators behind mallocwatch.h.
 */
#include <stdatomic.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mallocwatch.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static _Atomic(pthread_mutex_t *) watched[2];
static atomic_bool active;
static atomic_ulong under_lock;

#ifdef __GLIBC__
static bool held(pthread_mutex_t *m, int tid)
{
	return m && __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) == tid;
}
#endif

static void check(void)
{
	if (!atomic_load_explicit(&active, memory_order_relaxed))
		return;
#ifdef __GLIBC__
	int tid = (int)syscall(SYS_gettid);
	if (held(atomic_load(&watched[0]), tid) || held(atomic_load(&watched[1]), tid))
		atomic_fetch_add(&under_lock, 1);
#endif
}

void *__wrap_malloc(size_t n)
{
	check();
	return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	check();
	return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	check();
	return __real_realloc(p, n);
}

void mw_watch(pthread_mutex_t *a, pthread_mutex_t *b)
{
	atomic_store(&watched[0], a);
	atomic_store(&watched[1], b);
	atomic_store(&under_lock, 0);
	atomic_store(&active, true);
}

unsigned long mw_stop(void)
{
	atomic_store(&active, false);
	atomic_store(&watched[0], NULL);
	atomic_store(&watched[1], NULL);
	return atomic_load(&under_lock);
}

bool mw_works(void)
{
#ifdef __GLIBC__
	return true;
#else
	return false;
#endif
}
