/*
 * tslot.c — per-thread slots (see tslot.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "tslot.h"

_Thread_local unsigned us_tslot_plus1 __attribute__((tls_model("initial-exec")));

/* owned[k]: a thread owns slot k (or borrows it). Claimed with an acquire
 * CAS, released with a release store: what the previous owner wrote in
 * slot k's shards and caches is visible to the next one. */
static _Atomic bool owned[US_TSLOTS];
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static bool key_ok;             /* written once under key_once */

/* At thread exit: give the slot back. Anything this thread still does
 * after (another key's destructor calling into the stack) goes to the
 * shared slot. */
static void slot_release(void *v)
{
	unsigned k = (unsigned)(uintptr_t)v - 1;
	us_tslot_plus1 = US_TSLOT_SHARED + 1;
	atomic_store_explicit(&owned[k], false, memory_order_release);
}

/* fork: the child has one thread, the one that forked; the other slots'
 * owners do not exist there. */
static void after_fork_child(void)
{
	for (unsigned k = 0; k < US_TSLOTS; k++)
		if (k + 1 != us_tslot_plus1)
			atomic_store_explicit(&owned[k], false, memory_order_relaxed);
}

static void make_key(void)
{
	if (pthread_key_create(&key, slot_release) != 0)
		return;         /* no destructor to give slots back: every thread shares */
	pthread_atfork(NULL, NULL, after_fork_child);
	key_ok = true;
}

bool us_tslot_borrow(unsigned k)
{
	bool f = false;
	return k < US_TSLOTS &&
	       atomic_compare_exchange_strong_explicit(&owned[k], &f, true, memory_order_acquire,
						       memory_order_relaxed);
}

void us_tslot_unborrow(unsigned k)
{
	atomic_store_explicit(&owned[k], false, memory_order_release);
}

unsigned us_tslot_claim(void)
{
	pthread_once(&key_once, make_key);
	unsigned s = US_TSLOT_SHARED;
	for (unsigned k = 0; key_ok && k < US_TSLOTS; k++)
		if (us_tslot_borrow(k)) {
			if (pthread_setspecific(key, (void *)(uintptr_t)(k + 1)) != 0) {
				us_tslot_unborrow(k);
				break;
			}
			s = k;
			break;
		}
	us_tslot_plus1 = s + 1;
	return s;
}
