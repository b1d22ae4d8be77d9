/*
 * timer.c — the hierarchical timer wheel (see timer.h for the contract).
 *
 * Slots: level 0 is slots[0..255], one tick each: it holds the timers of
 * the next 256 ticks from the cursor (slot = tick & 255), and overdue ones
 * in the cursor's slot. Level l >= 1 is slots[256 + 64 (l-1) ..], slot =
 * (tick >> shift(l)) & 63 with shift(l) = 8 + 6 (l-1): a slot there holds
 * one block of 2^shift(l) ticks, always a future one (the current block's
 * slot was emptied when the cursor entered it), so scanning a level's
 * bitmap from the slot after the cursor's finds its earliest block first.
 *
 * No armed timer is ever behind the cursor. Run fires the cursor's slot,
 * then jumps the cursor to the next tick where anything happens (the next
 * occupied level-0 slot, or the start of the next occupied block of a
 * higher level, where that block is cascaded), or to now.
 */
#include <time.h>

#include "timer.h"
#include "lockassert.h"

#define L0_SLOTS  US_WHEEL_SLOTS
#define LN_SLOTS  (1 << US_WHEEL_LN_BITS)
#define LN_MASK   (LN_SLOTS - 1)
#define OVERFLOW  US_WHEEL_NSLOTS       /* slots[] index of the overflow list */

static unsigned level_shift(int l)
{
	return l == 0 ? 0 : US_WHEEL_L0_BITS + (unsigned)(l - 1) * US_WHEEL_LN_BITS;
}

static unsigned level_base(int l)
{
	return l == 0 ? 0 : L0_SLOTS + (unsigned)(l - 1) * LN_SLOTS;
}

static void list_init(struct us_timer *h) { h->next = h->prev = h; }

static bool slot_empty(const struct us_timer_wheel *w, unsigned s)
{
	return w->slots[s].next == &w->slots[s];
}

static void bit_set(struct us_timer_wheel *w, unsigned s)
{
	if (s != OVERFLOW)
		w->occupied[s / 64] |= 1ULL << (s % 64);
}

static void bit_clear(struct us_timer_wheel *w, unsigned s)
{
	if (s != OVERFLOW)
		w->occupied[s / 64] &= ~(1ULL << (s % 64));
}

/* Take t off its slot list; an emptied slot loses its bit and bound. */
static void unlink_timer(struct us_timer_wheel *w, struct us_timer *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
	if (slot_empty(w, t->slot)) {
		bit_clear(w, t->slot);
		w->slot_min[t->slot] = UINT64_MAX;
	}
}

/* Put t (expires set) into the slot its distance from the cursor calls for. */
static void place_timer(struct us_timer_wheel *w, struct us_timer *t)
{
	uint64_t c = w->cursor;
	uint64_t tick = t->expires / US_WHEEL_TICK_NS;
	if (tick < c)
		tick = c;               /* overdue: the slot being processed */
	uint64_t d = tick - c;
	unsigned s;
	if (d >= US_WHEEL_SPAN) {
		s = OVERFLOW;           /* placed again when a level-4 block begins */
	} else if (d < L0_SLOTS) {
		s = (unsigned)(tick & (L0_SLOTS - 1));
	} else {
		int l = 1;
		while (d >> (level_shift(l) + US_WHEEL_LN_BITS))
			l++;
		s = level_base(l) + (unsigned)((tick >> level_shift(l)) & LN_MASK);
	}
	struct us_timer *h = &w->slots[s];
	/* Append: timers due in the same tick fire in the order armed. */
	t->prev = h->prev;
	t->next = h;
	h->prev->next = t;
	h->prev = t;
	t->slot = (uint16_t)s;
	bit_set(w, s);
	if (t->expires < w->slot_min[s])
		w->slot_min[s] = t->expires;
}

void us_wheel_init(struct us_timer_wheel *w, const struct us_clock *clock)
{
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_cond_init(&w->done, &ca);
	pthread_condattr_destroy(&ca);
	for (int i = 0; i <= US_WHEEL_NSLOTS; i++) {
		list_init(&w->slots[i]);
		w->slot_min[i] = UINT64_MAX;
	}
	for (unsigned i = 0; i < US_WHEEL_NSLOTS / 64; i++)
		w->occupied[i] = 0;
	w->count = 0;
	w->ops = 0;
	w->fired = 0;
	w->loops = 0;
	w->running = NULL;
	w->stop = false;
	w->clock = clock;
	w->sleep_until = UINT64_MAX;
	w->cursor = us_clock_now(clock) / US_WHEEL_TICK_NS;
}

void us_wheel_destroy(struct us_timer_wheel *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->done);
	pthread_mutex_destroy(&w->lock);
}

void us_timer_init(struct us_timer *t, void (*fn)(void *), void *arg)
{
	t->next = t->prev = NULL;
	t->expires = 0;
	t->slot = 0;
	t->armed = false;
	t->fn = fn;
	t->arg = arg;
}

bool us_timer_arm(struct us_timer_wheel *w, struct us_timer *t, uint64_t expires)
{
	pthread_mutex_lock(&w->lock);
	w->ops++;
	bool was = t->armed;
	if (t->armed)
		unlink_timer(w, t);
	else
		w->count++;
	t->expires = expires;
	t->armed = true;
	place_timer(w, t);
	if (expires < w->sleep_until)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return was;
}

static bool cancel_locked(struct us_timer_wheel *w, struct us_timer *t)
{
	bool was = t->armed;
	if (was) {
		unlink_timer(w, t);
		t->armed = false;
		w->count--;
	}
	return was;
}

bool us_timer_cancel(struct us_timer_wheel *w, struct us_timer *t)
{
	pthread_mutex_lock(&w->lock);
	w->ops++;
	bool was = cancel_locked(w, t);
	pthread_mutex_unlock(&w->lock);
	return was;
}

void us_timer_cancel_sync(struct us_timer_wheel *w, struct us_timer *t)
{
	pthread_mutex_lock(&w->lock);
	w->ops++;
	cancel_locked(w, t);
	while (w->running == t)
		pthread_cond_wait(&w->done, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

bool us_timer_armed(struct us_timer_wheel *w, struct us_timer *t)
{
	pthread_mutex_lock(&w->lock);
	w->ops++;
	bool a = t->armed;
	pthread_mutex_unlock(&w->lock);
	return a;
}

uint64_t us_wheel_ops(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t n = w->ops;
	pthread_mutex_unlock(&w->lock);
	return n;
}

void us_wheel_counts(struct us_timer_wheel *w, uint64_t *armed, uint64_t *ops, uint64_t *fired,
		     uint64_t *loops)
{
	pthread_mutex_lock(&w->lock);
	*armed = w->count;
	*ops = w->ops;
	*fired = w->fired;
	*loops = w->loops;
	pthread_mutex_unlock(&w->lock);
}

/*
 * Level 0: the distance (0..255) from slot p, in slot order p, p+1, ...,
 * 255, 0, ..., p-1 (which is tick order), to the first occupied slot; -1
 * if none.
 */
static int scan_l0(const struct us_timer_wheel *w, unsigned p)
{
	for (unsigned i = 0; i <= L0_SLOTS / 64; i++) {
		unsigned wi = ((p / 64) + i) % (L0_SLOTS / 64);
		uint64_t word = w->occupied[wi];
		if (i == 0)
			word &= ~0ULL << (p % 64);
		else if (i == L0_SLOTS / 64)
			word &= (p % 64) ? ~(~0ULL << (p % 64)) : 0;
		if (word) {
			unsigned s = wi * 64 + (unsigned)__builtin_ctzll(word);
			return (int)((s - p) & (L0_SLOTS - 1));
		}
	}
	return -1;
}

/*
 * Level l >= 1: how many blocks (1..64) after the cursor's block the first
 * occupied slot is; 0 if the level is empty.
 */
static unsigned scan_ln(const struct us_timer_wheel *w, int l)
{
	unsigned base = level_base(l);
	uint64_t word = w->occupied[base / 64];         /* one word per level */
	if (!word)
		return 0;
	unsigned p = (unsigned)((w->cursor >> level_shift(l)) & LN_MASK);
	unsigned r = (p + 1) & LN_MASK;
	uint64_t rot = r ? (word >> r) | (word << (64 - r)) : word;
	return (unsigned)__builtin_ctzll(rot) + 1;
}

_Static_assert(US_WHEEL_SLOTS % 64 == 0 && (1 << US_WHEEL_LN_BITS) == 64,
	       "each coarse level is one bitmap word");

/* Earliest expiry (lower bound), O(levels). */
static uint64_t next_locked(struct us_timer_wheel *w)
{
	uint64_t best = UINT64_MAX;
	if (w->count == 0)
		return best;
	int k = scan_l0(w, (unsigned)(w->cursor & (L0_SLOTS - 1)));
	if (k >= 0)
		best = w->slot_min[(w->cursor + (unsigned)k) & (L0_SLOTS - 1)];
	for (int l = 1; l < US_WHEEL_LEVELS; l++) {
		unsigned off = scan_ln(w, l);
		if (!off)
			continue;
		uint64_t blk = (w->cursor >> level_shift(l)) + off;
		uint64_t m = w->slot_min[level_base(l) + (unsigned)(blk & LN_MASK)];
		if (m < best)
			best = m;
	}
	if (w->slot_min[OVERFLOW] < best)
		best = w->slot_min[OVERFLOW];
	return best;
}

/*
 * The next tick after the cursor at which run has work: an occupied
 * level-0 slot, or the first tick of an occupied higher-level block (to
 * cascade it). UINT64_MAX if none. The cursor's own slot must be empty.
 */
static uint64_t next_event_tick(struct us_timer_wheel *w)
{
	uint64_t c = w->cursor, best = UINT64_MAX;
	int k = scan_l0(w, (unsigned)((c + 1) & (L0_SLOTS - 1)));
	if (k >= 0)
		best = c + 1 + (unsigned)k;
	for (int l = 1; l < US_WHEEL_LEVELS; l++) {
		unsigned off = scan_ln(w, l);
		if (!off)
			continue;
		uint64_t start = ((c >> level_shift(l)) + off) << level_shift(l);
		if (start < best)
			best = start;
	}
	if (!slot_empty(w, OVERFLOW)) {
		unsigned sh = level_shift(US_WHEEL_LEVELS - 1);
		uint64_t start = ((c >> sh) + 1) << sh;
		if (start < best)
			best = start;
	}
	return best;
}

/* Empty slot s and place each of its timers again from the cursor. */
static void replace_slot(struct us_timer_wheel *w, unsigned s)
{
	struct us_timer *h = &w->slots[s];
	if (h->next == h)
		return;
	struct us_timer *first = h->next, *last = h->prev;
	list_init(h);
	bit_clear(w, s);
	w->slot_min[s] = UINT64_MAX;
	last->next = NULL;
	for (struct us_timer *t = first, *n; t; t = n) {
		n = t->next;
		place_timer(w, t);
	}
}

/* The cursor has just entered tick b: place again the timers of every
 * higher-level block that starts at b (and, at a level-4 block, those of
 * the overflow list, some of which may now be within the span). */
static void cascade(struct us_timer_wheel *w, uint64_t b)
{
	for (int l = 1; l < US_WHEEL_LEVELS; l++) {
		unsigned sh = level_shift(l);
		if (b & ((1ULL << sh) - 1))
			return;
		replace_slot(w, level_base(l) + (unsigned)((b >> sh) & LN_MASK));
	}
	replace_slot(w, OVERFLOW);
}

/* Fire the due timers of level-0 slot s; then make its bound exact. */
static int fire_slot(struct us_timer_wheel *w, unsigned s, uint64_t now)
{
	struct us_timer *h = &w->slots[s];
	int fired = 0;
again:
	for (struct us_timer *t = h->next; t != h; t = t->next) {
		if (t->expires > now)
			continue;
		unlink_timer(w, t);
		t->armed = false;
		w->count--;
		w->running = t;
		pthread_mutex_unlock(&w->lock);
		t->fn(t->arg);
		pthread_mutex_lock(&w->lock);
		w->running = NULL;
		pthread_cond_broadcast(&w->done);
		w->fired++;
		fired++;
		/* The callback may have changed this list: rescan it. */
		goto again;
	}
	if (h->next != h) {
		uint64_t m = UINT64_MAX;
		for (struct us_timer *t = h->next; t != h; t = t->next)
			if (t->expires < m)
				m = t->expires;
		w->slot_min[s] = m;
	}
	return fired;
}

/* Called with the lock held; returns with it held. */
static int run_locked(struct us_timer_wheel *w, uint64_t now)
{
	US_ASSERT_LOCKED(&w->lock);
	uint64_t end = now / US_WHEEL_TICK_NS;
	int fired = 0;
	if (w->count == 0) {
		if (end > w->cursor)
			w->cursor = end;
		return 0;
	}
	for (;;) {
		/*
		 * The cursor stays on the tick being fired: a timer a callback
		 * arms for a time already past goes into this very slot, which
		 * fire_slot rescans, instead of being stranded.
		 */
		fired += fire_slot(w, (unsigned)(w->cursor & (L0_SLOTS - 1)), now);
		if (w->cursor >= end)
			break;
		uint64_t nx = next_event_tick(w);
		if (nx > end)
			nx = end;
		w->cursor = nx;
		cascade(w, nx);
	}
	return fired;
}

int us_wheel_run(struct us_timer_wheel *w, uint64_t now)
{
	pthread_mutex_lock(&w->lock);
	int n = run_locked(w, now);
	pthread_mutex_unlock(&w->lock);
	return n;
}

uint64_t us_wheel_next(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t n = next_locked(w);
	pthread_mutex_unlock(&w->lock);
	return n;
}

void us_wheel_loop(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		w->loops++;
		uint64_t now = us_clock_now(w->clock);
		run_locked(w, now);
		if (w->stop)
			break;
		uint64_t next = next_locked(w);
		now = us_clock_now(w->clock);
		if (next <= now)
			continue;
		/*
		 * Sleep until the next deadline, but while deadlines are near (a
		 * busy connection: delayed ACK, RTO), in steps of at most 10 ms:
		 * then arming a timer later than the step (40 ms delayed ACK,
		 * 200 ms RTO) needs no wake-up of this thread, which would
		 * otherwise cost a context switch per segment. With nothing due
		 * within a second (idle connections hold no timer) it sleeps
		 * until the deadline, at most an hour: no periodic wake-up, an
		 * earlier arming signals it (us_timer_arm, sleep_until).
		 */
		uint64_t far = 3600 * US_NS_PER_SEC;
		uint64_t step = next - now < US_NS_PER_SEC ? 10 * US_NS_PER_MS
				: next - now < far ? next - now : far;
		uint64_t deadline = now + step;
		if (next < deadline)
			deadline = next;
		w->sleep_until = deadline;
		struct timespec ts = {
			.tv_sec = (time_t)(deadline / US_NS_PER_SEC),
			.tv_nsec = (long)(deadline % US_NS_PER_SEC),
		};
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		w->sleep_until = UINT64_MAX;
	}
	pthread_mutex_unlock(&w->lock);
}

void us_wheel_stop(struct us_timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}
