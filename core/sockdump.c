/*
 * sockdump.c — the stack's sockets listed as `ss -tuan` lists the kernel's
 * (us_stack_sockets_print; ustackd prints it on SIGUSR2). Each
 * connection gets a second, indented line with what TCP_INFO reports
 * (tcp_info.c), as `ss -tin` prints it. The last line is
 * "# end of socket listing (N rows)", N the rows above it (not counting
 * the TCP_INFO lines), which ss does not print: a reader of ustackd's
 * stderr waits for it rather than guessing when the listing is done.
 *
 * Locking: the tables are walked under their own locks only to take a
 * reference to each socket (the order is socket lock -> table lock, so no
 * socket lock may be taken inside the walk); each socket is then read
 * under its own lock, one at a time. The list is a snapshot per socket,
 * not of the whole stack at one instant, as ss's is. Not a hot path: the
 * references are gathered in a malloc'd array.
 *
 * Connections in TIME_WAIT (tcp_timewait.c) and half-open ones (the SYN
 * cache, tcp_syncache.c) are compact records, not sockets: their 4-tuples
 * are copied under tw_lock and syn_lock (doc/LOCKING.md), one table at a
 * time, and listed as ss -tan lists them, TIME-WAIT and SYN-RECV with
 * empty queues (ss shows 0 0) and no TCP_INFO line. Nothing is allocated
 * under those locks (tuples_snapshot): the table is counted under its lock,
 * the array allocated outside it and filled under the lock again, so each
 * table's rows are one consistent snapshot.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "stack.h"

/* The socket references gathered from one table walk. */
struct sockvec {
	struct us_sock **v;
	size_t n, cap;
};

static void sv_add(struct sockvec *sv, struct us_sock *s)
{
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? 2 * sv->cap : 64;
		struct us_sock **v = realloc(sv->v, cap * sizeof *v);
		if (!v)
			return;                 /* out of memory: list fewer */
		sv->v = v;
		sv->cap = cap;
	}
	us_sock_hold(s);
	sv->v[sv->n++] = s;
}

/* ss's names for the TCP states. */
static const char *ss_state(enum tcp_state s)
{
	static const char *const names[] = {
		[TCPS_CLOSED] = "CLOSE",         [TCPS_LISTEN] = "LISTEN",
		[TCPS_SYN_SENT] = "SYN-SENT",    [TCPS_SYN_RCVD] = "SYN-RECV",
		[TCPS_ESTABLISHED] = "ESTAB",    [TCPS_FIN_WAIT_1] = "FIN-WAIT-1",
		[TCPS_FIN_WAIT_2] = "FIN-WAIT-2", [TCPS_CLOSE_WAIT] = "CLOSE-WAIT",
		[TCPS_CLOSING] = "CLOSING",      [TCPS_LAST_ACK] = "LAST-ACK",
		[TCPS_TIME_WAIT] = "TIME-WAIT",
	};
	return (unsigned)s < sizeof names / sizeof names[0] && names[s] ? names[s] : "UNKNOWN";
}

static void addr_port(char *buf, size_t len, uint32_t addr, uint16_t port, bool any_port)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &addr, a, sizeof a);
	if (any_port)
		snprintf(buf, len, "%s:*", a);
	else
		snprintf(buf, len, "%s:%u", a, ntohs(port));
}

static void row(FILE *out, const char *netid, const char *state, uint64_t rq, uint64_t sq,
		const char *local, const char *peer)
{
	fprintf(out, "%-5s %-10s %-6llu %-6llu %-21s %s\n", netid, state, (unsigned long long)rq,
		(unsigned long long)sq, local, peer);
}

/* Returns the rows printed (0 or 1; the TCP_INFO line is not a row). */
static size_t print_tcp(struct us_sock *s, FILE *out)
{
	char l[32], p[32];
	pthread_mutex_lock(&s->lock);
	struct us_tcb *t = s->tcb;
	if (!t) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	enum tcp_state st = t->state;
	uint64_t rq, sq;
	if (st == TCPS_LISTEN) {
		rq = (uint64_t)t->acc_count;
		sq = (uint64_t)t->backlog;
	} else {
		rq = t->rcvq.len;
		sq = t->sndq.len;
	}
	addr_port(l, sizeof l, t->laddr, t->lport, false);
	addr_port(p, sizeof p, st == TCPS_LISTEN ? 0 : t->raddr, t->rport, st == TCPS_LISTEN);
	char info[512] = "";
	if (st != TCPS_LISTEN)
		tcp_info_format(t, info, sizeof info);  /* what TCP_INFO reports, as ss -ti */
	pthread_mutex_unlock(&s->lock);
	row(out, "tcp", ss_state(st), rq, sq, l, p);
	if (info[0])
		fprintf(out, "%s\n", info);
	return 1;
}

/* Tries before tuples_snapshot settles for a table that keeps outgrowing
 * its array (each one allocates for the count just seen plus an eighth). */
#define SNAPSHOT_TRIES 8

/*
 * One table's 4-tuples (copy: tcp_tw_tuples or tcp_syncache_tuples, which
 * copy at most cap under their lock and return how many there are), with
 * no allocation under the table's lock: count, allocate outside the lock,
 * copy under it again; if the table has outgrown the array meanwhile, again
 * with room for the new count. Returns the array (NULL when empty or out
 * of memory) with *n rows; *missed is how many records were left out (only
 * when the table outgrew SNAPSHOT_TRIES arrays in a row, or no memory).
 */
static struct tcp_tuple *tuples_snapshot(struct us_tcp *tcp,
					 size_t (*copy)(struct us_tcp *, struct tcp_tuple *, size_t),
					 size_t *n, size_t *missed)
{
	struct tcp_tuple *v = NULL;
	size_t cap = 0, total = copy(tcp, NULL, 0);
	for (int i = 0; i < SNAPSHOT_TRIES && total > cap; i++) {
		size_t want = total + total / 8 + 16;
		struct tcp_tuple *nv = realloc(v, want * sizeof *v);
		if (!nv)
			break;
		v = nv;
		cap = want;
		total = copy(tcp, v, cap);
	}
	*n = total < cap ? total : cap;
	*missed = total - *n;
	return v;
}

/* Returns the rows printed. */
static size_t print_tuples(FILE *out, struct us_tcp *tcp, const char *state,
			 size_t (*copy)(struct us_tcp *, struct tcp_tuple *, size_t))
{
	char l[32], p[32];
	size_t n, missed;
	struct tcp_tuple *v = tuples_snapshot(tcp, copy, &n, &missed);
	for (size_t i = 0; i < n; i++) {
		addr_port(l, sizeof l, v[i].laddr, v[i].lport, false);
		addr_port(p, sizeof p, v[i].raddr, v[i].rport, false);
		row(out, "tcp", state, 0, 0, l, p);
	}
	if (missed)
		fprintf(out, "# %zu more in %s not listed (the table kept growing, or no memory)\n",
			missed, state);
	free(v);
	return n;
}

static size_t print_udp(struct us_sock *s, FILE *out)
{
	char l[32], p[32];
	pthread_mutex_lock(&s->lock);
	uint64_t rq = s->rq.used;
	bool conn = s->connected;
	addr_port(l, sizeof l, s->local.sin_addr.s_addr, s->local.sin_port, false);
	addr_port(p, sizeof p, conn ? s->remote.sin_addr.s_addr : 0, s->remote.sin_port, !conn);
	pthread_mutex_unlock(&s->lock);
	row(out, "udp", conn ? "ESTAB" : "UNCONN", rq, 0, l, p);
	return 1;
}

void us_stack_sockets_print(us_stack *st, FILE *out)
{
	struct sockvec tcp = { 0 }, udp = { 0 };

	tcp.v = tcp_collect_socks(st, true, &tcp.n);
	pthread_rwlock_rdlock(&st->udp.lock);
	for (int h = 0; h < US_UDP_HASH; h++)
		for (struct us_sock *s = st->udp.hash[h]; s; s = s->port_next)
			sv_add(&udp, s);
	pthread_rwlock_unlock(&st->udp.lock);

	fprintf(out, "%-5s %-10s %-6s %-6s %-21s %s\n", "Netid", "State", "Recv-Q", "Send-Q",
		"Local Address:Port", "Peer Address:Port");
	size_t rows = 0;
	for (size_t i = 0; i < tcp.n; i++) {
		rows += print_tcp(tcp.v[i], out);
		us_sock_put(tcp.v[i]);
	}
	rows += print_tuples(out, &st->tcp, "SYN-RECV", tcp_syncache_tuples);
	rows += print_tuples(out, &st->tcp, "TIME-WAIT", tcp_tw_tuples);
	for (size_t i = 0; i < udp.n; i++) {
		rows += print_udp(udp.v[i], out);
		us_sock_put(udp.v[i]);
	}
	/* The end, so that a reader (t_observe.sh) knows the listing is whole. */
	fprintf(out, "# end of socket listing (%zu rows)\n", rows);
	fflush(out);
	free(tcp.v);
	free(udp.v);
}
