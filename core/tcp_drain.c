/*
 * tcp_drain.c — at stack stop, the connections the application closed
 * still have work to do: queued data and a FIN to deliver. A process on
 * Linux can exit right after close() and the kernel finishes the
 * connection; a library stack goes away with its process, so
 * us_stack_stop waits for them first (bounded by stack.drain_timeout_ms,
 * doc/API.md) and resets those that do not finish in time, as Linux
 * resets an orphan it has to give up (tcp_out_of_resources).
 *
 * "Still sending" is an orphan (closed by the application) whose FIN is
 * not acknowledged yet: FIN_WAIT_1, CLOSING, LAST_ACK. FIN_WAIT_2 and
 * TIME_WAIT have delivered everything: nothing is lost if they end.
 *
 * Locking: the 4-tuple table is walked under us_tcp.lock (read) only to
 * take a reference to each connection's socket; each is then examined
 * under its own lock, with the table lock dropped (socket -> table is the
 * order, doc/LOCKING.md).
 */
#include <errno.h>
#include <stdlib.h>

#include "stack.h"
#include "tcp.h"

static bool still_sending(const struct us_tcb *t)
{
	return t->orphan && (t->state == TCPS_FIN_WAIT_1 || t->state == TCPS_CLOSING ||
			     t->state == TCPS_LAST_ACK);
}

/* Append a reference to s to *v (grown by doubling); false when out of memory. */
static bool sockvec_add(struct us_sock ***v, size_t *n, size_t *cap, struct us_sock *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct us_sock **nv = realloc(*v, nc * sizeof *nv);
		if (!nv)
			return false;
		*v = nv;
		*cap = nc;
	}
	us_sock_hold(s);
	(*v)[(*n)++] = s;
	return true;
}

struct us_sock **tcp_collect_socks(struct us_stack *st, bool listeners, size_t *n)
{
	struct us_tcp *tc = &st->tcp;
	struct us_sock **v = NULL;
	size_t cap = 0;
	*n = 0;
	pthread_rwlock_rdlock(&tc->lock);
	for (int b = 0; listeners && b < US_TCP_HASH; b++)
		for (struct us_tcb *t = tc->port[b]; t; t = t->port_next)
			if (!t->in_conn && !sockvec_add(&v, n, &cap, t->sock))
				goto out;
	for (unsigned b = 0; b < tc->conn_buckets; b++)
		for (struct us_tcb *t = tc->conn[b]; t; t = t->conn_next)
			if (!sockvec_add(&v, n, &cap, t->sock))
				goto out;
out:
	pthread_rwlock_unlock(&tc->lock);
	return v;
}

int us_tcp_drain_pending(struct us_stack *st, bool reset)
{
	size_t n;
	struct us_sock **v = tcp_collect_socks(st, false, &n);
	int pending = 0;
	for (size_t i = 0; i < n; i++) {
		struct us_sock *s = v[i];
		pthread_mutex_lock(&s->lock);
		struct us_tcb *t = s->tcb;
		if (t && still_sending(t)) {
			if (reset) {
				tcp_send_rst(t);
				US_STAT_INC(st, TCP_RESETS_SENT);
				tcp_done(t, ECONNRESET);
			} else {
				pending++;
			}
		}
		pthread_mutex_unlock(&s->lock);
		us_sock_put(s);
	}
	free(v);
	return pending;
}
