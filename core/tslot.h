/*
 * tslot.h — per-thread slots: what makes counters and buffer caches
 * per thread without a lock.
 *
 * The process has US_TSLOTS slots. A thread that touches a counter or the
 * buffer pool for the first time claims the lowest free slot (one
 * compare-and-swap on a process-wide flag) and keeps it until it ends (a
 * pthread key destructor gives it back); its number lives in a
 * thread-local word, so every later lookup is one TLS load. Owning slot k
 * means: no other thread writes anything indexed by k (shard k of every
 * stack's counters, cache k of every pool), so the owner updates them with
 * plain (relaxed atomic load + store) operations, no lock and no
 * read-modify-write.
 *
 * A thread that finds every slot taken gets US_TSLOT_SHARED, which many
 * threads share: counters indexed by it are updated with atomic
 * read-modify-writes (never a lost count), and the buffer pool serves it
 * from its shared list under the pool lock, as before the caches existed.
 *
 * A signal handler counting on the thread it interrupted could lose that
 * thread's interrupted increment (load, handler's store, stale store):
 * nothing of the stack is async-signal-safe anyway (it takes mutexes), and
 * the SIGUSR1/SIGUSR2 listings only read.
 *
 * Slots are process-wide, not per stack: one thread has the same slot in
 * every stack of the process, and each stack or pool sizes its per-thread
 * arrays US_TSLOTS + 1.
 */
#ifndef US_TSLOT_H
#define US_TSLOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define US_TSLOTS 32                    /* exclusive slots */
#define US_TSLOT_SHARED US_TSLOTS       /* everyone else's: atomic RMW / locked */

/* This thread's slot + 1, 0 before its first lookup. initial-exec: one
 * %fs-relative load, also in the shared library (loaded at start-up, or
 * dlopen'ed: 4 bytes fit glibc's static TLS reserve). */
extern _Thread_local unsigned us_tslot_plus1 __attribute__((tls_model("initial-exec")));

unsigned us_tslot_claim(void);

/* This thread's slot: [0, US_TSLOTS) owned, or US_TSLOT_SHARED. */
static inline unsigned us_tslot(void)
{
	unsigned s = us_tslot_plus1;
	return __builtin_expect(s != 0, 1) ? s - 1 : us_tslot_claim();
}

/*
 * Add n to counter c of slot `slot`'s shard. Its owner is the only writer:
 * a relaxed load and store (no lock prefix; readers summing the shards see
 * either value, never a torn one). The shared slot's counters take an
 * atomic add: threads sharing it lose no count.
 */
static inline void us_tslot_add(_Atomic uint64_t *c, unsigned slot, uint64_t n)
{
	if (__builtin_expect(slot < US_TSLOTS, 1))
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
				      memory_order_relaxed);
	else
		atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/*
 * Take slot k for a moment although this thread is not its owner: true if
 * k was free (no thread owns it: its owner ended), and then nobody else
 * can own it until us_tslot_unborrow(k). The buffer pool uses it to take
 * back what an ended thread left in its cache.
 */
bool us_tslot_borrow(unsigned k);
void us_tslot_unborrow(unsigned k);

#endif
