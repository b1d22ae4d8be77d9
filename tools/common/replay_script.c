/*
 * replay_script.c — running usreplay's application script (see
 * replay_script.h; replay_script_load.c reads it). Each op is one or two
 * socket calls on a non-blocking descriptor; what would block is an error.
 *
 * Data sent with `bytes: N` is a pattern indexed by the socket's stream
 * offset (rp_pattern_byte), so `recv {pattern: true}` can check data a
 * peer sent with the same pattern, wherever the segment boundaries fall.
 *
 * resolve runs us_getaddrinfo() on a thread of its own, because the
 * resolver waits for its answer (on real time) while this thread must keep
 * driving the virtual clock: the op returns once the query is on its way
 * (the stack's UDP send counter moved) or the lookup is over, so the
 * query leaves at a reproducible virtual time; the answer is picked up
 * when the trace delivers it and checked at the end of the run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/common/replay_script_int.h"

/* ---- running --------------------------------------------------------------- */

static void script_error(struct rp_script *s, const struct event *e, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%d: %s: %s\n", s->path, e->line, rp_ops[e->op].name, msg);
	s->errors++;
}

static struct named *lookup(struct rp_script *s, const char *name)
{
	for (int i = 0; i < s->nnames; i++)
		if (strcmp(s->names[i].name, name) == 0)
			return &s->names[i];
	return NULL;
}

static struct named *need(struct rp_script *s, const struct event *e)
{
	struct named *n = lookup(s, e->on);
	if (!n)
		script_error(s, e, "no socket named \"%s\"", e->on);
	return n;
}

static struct named *bind_name(struct rp_script *s, const struct event *e, int fd, bool udp)
{
	struct named *n = lookup(s, e->as);
	if (!n) {
		if (s->nnames == MAX_NAMES) {
			script_error(s, e, "too many named sockets (at most %d)", MAX_NAMES);
			return NULL;
		}
		n = &s->names[s->nnames++];
	}
	memset(n, 0, sizeof *n);
	snprintf(n->name, sizeof n->name, "%s", e->as);
	n->fd = fd;
	n->udp = udp;
	return n;
}

/* The outcome of a call that may fail: true when it went as the event expected. */
static bool outcome(struct rp_script *s, const struct event *e, long rc, int err, const char *what)
{
	if (e->expect_error) {
		if (rc >= 0)
			script_error(s, e, "%s succeeded, expected %s", what, rp_errname(e->expect_error));
		else if (err != e->expect_error)
			script_error(s, e, "%s failed with %s (%s), expected %s", what, rp_errname(err),
				     strerror(err), rp_errname(e->expect_error));
		return false;
	}
	if (rc < 0) {
		script_error(s, e, "%s failed: %s (%s)", what, rp_errname(err), strerror(err));
		return false;
	}
	return true;
}

static int apply_sockopts(struct rp_script *s, const struct event *e, us_stack *st, int fd)
{
	const struct sockopts *o = &e->so;
	struct {
		int val, level, name;
		const char *key;
	} set[] = {
		{ o->reuseaddr, SOL_SOCKET, SO_REUSEADDR, "reuseaddr" },
		{ o->rcvbuf, SOL_SOCKET, SO_RCVBUF, "rcvbuf" },
		{ o->sndbuf, SOL_SOCKET, SO_SNDBUF, "sndbuf" },
		{ o->keepalive, SOL_SOCKET, SO_KEEPALIVE, "keepalive" },
		{ o->nodelay, IPPROTO_TCP, TCP_NODELAY, "nodelay" },
		{ o->maxseg, IPPROTO_TCP, TCP_MAXSEG, "maxseg" },
		{ o->keepidle, IPPROTO_TCP, TCP_KEEPIDLE, "keepidle" },
		{ o->keepintvl, IPPROTO_TCP, TCP_KEEPINTVL, "keepintvl" },
		{ o->keepcnt, IPPROTO_TCP, TCP_KEEPCNT, "keepcnt" },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
		if (set[i].val < 0)
			continue;
		if (us_setsockopt(st, fd, set[i].level, set[i].name, &set[i].val,
				  sizeof set[i].val) < 0) {
			script_error(s, e, "setsockopt %s: %s", set[i].key, strerror(errno));
			rc = -1;
		}
	}
	if (o->linger >= 0) {
		struct linger l = { .l_onoff = 1, .l_linger = o->linger };
		if (us_setsockopt(st, fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0) {
			script_error(s, e, "setsockopt linger: %s", strerror(errno));
			rc = -1;
		}
	}
	return rc;
}

/* The bytes an event sends: its data, or the pattern from stream offset off. */
static uint8_t *payload_of(const struct event *e, uint64_t off)
{
	if (!e->pattern_data)
		return e->data;
	uint8_t *b = malloc(e->dlen ? e->dlen : 1);
	if (b)
		for (size_t i = 0; i < e->dlen; i++)
			b[i] = rp_pattern_byte(off + i);
	return b;
}

/* Printable excerpt of bytes for messages. */
static void excerpt(char *out, size_t cap, const uint8_t *p, size_t n)
{
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < n && o + 6 < cap; i++) {
		if (p[i] >= 32 && p[i] < 127 && p[i] != '"' && p[i] != '\\')
			out[o++] = (char)p[i];
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
	}
	if (o + 5 >= cap)
		o = cap - 5 > 0 ? cap - 5 : 0;
	snprintf(out + o, cap - o, "%s\"", o + 5 >= cap ? "..." : "");
}

static void do_recv(struct rp_script *s, const struct event *e, us_stack *st, struct named *n)
{
	if (e->expect_error && !e->have_bytes) {
		uint8_t b[1];
		ssize_t r = us_recv(st, n->fd, b, 1, MSG_DONTWAIT);
		outcome(s, e, r, errno, "recv");
		return;
	}
	size_t want = e->have_bytes ? e->dlen : 0;
	uint8_t *buf = malloc(want ? want : 1);
	if (!buf) {
		script_error(s, e, "out of memory");
		return;
	}
	size_t got = 0;
	int err = 0;
	bool eof = false;
	while (got < want) {
		ssize_t r = us_recv(st, n->fd, buf + got, want - got, MSG_DONTWAIT);
		if (r < 0) {
			err = errno;
			break;
		}
		if (r == 0) {
			eof = true;
			break;
		}
		got += (size_t)r;
	}
	if (got < want) {
		if (err && err != EAGAIN) {
			if (!outcome(s, e, -1, err, "recv"))
				goto out;
		} else {
			script_error(s, e, "wanted %zu bytes on %s, only %zu %s", want, n->name, got,
				     eof ? "before end of stream" : "available");
		}
		goto out;
	}
	if (e->have_expect && memcmp(buf, e->expect, want) != 0) {
		char a[96], b[96];
		excerpt(a, sizeof a, e->expect, want);
		excerpt(b, sizeof b, buf, got);
		script_error(s, e, "on %s: expected %s, got %s", n->name, a, b);
	}
	if (e->pattern)
		for (size_t i = 0; i < got; i++)
			if (buf[i] != rp_pattern_byte(n->rcvd + i)) {
				script_error(s, e, "on %s: stream byte %llu: expected 0x%02x (pattern), "
					     "got 0x%02x", n->name, (unsigned long long)(n->rcvd + i),
					     rp_pattern_byte(n->rcvd + i), buf[i]);
				break;
			}
	n->rcvd += got;
	if (e->eof) {
		uint8_t b[1];
		ssize_t r = us_recv(st, n->fd, b, 1, MSG_DONTWAIT);
		if (r > 0)
			script_error(s, e, "expected end of stream on %s, got more data", n->name);
		else if (r < 0 && errno == EAGAIN)
			script_error(s, e, "expected end of stream on %s, the peer has not closed",
				     n->name);
		else if (r < 0)
			outcome(s, e, r, errno, "recv");
		else if (e->expect_error)
			script_error(s, e, "end of stream on %s, expected %s", n->name,
				     rp_errname(e->expect_error));
	} else if (e->expect_error) {
		uint8_t b[1];
		ssize_t r = us_recv(st, n->fd, b, 1, MSG_DONTWAIT);
		outcome(s, e, r, errno, "recv");
	}
out:
	free(buf);
}

static void *resolve_main(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	int rc = us_getaddrinfo(j->st, j->ev->name, NULL, &hints, &res);
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	if (rc == 0 && res)
		j->addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
	snprintf(j->detail, sizeof j->detail, "%s", us_resolver_detail());
	j->done = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (res)
		us_freeaddrinfo(res);
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

static void do_resolve(struct rp_script *s, const struct event *e, us_stack *st)
{
	if (s->njobs == MAX_RESOLVES) {
		script_error(s, e, "too many resolve ops (at most %d)", MAX_RESOLVES);
		return;
	}
	struct resolve_job *j = calloc(1, sizeof *j);
	if (!j) {
		script_error(s, e, "out of memory");
		return;
	}
	j->st = st;
	j->ev = e;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	uint64_t tx0 = us_stack_stat(st, US_STAT_UDP_TX);
	int rc = pthread_create(&j->th, NULL, resolve_main, j);
	if (rc != 0) {
		script_error(s, e, "pthread_create: %s", strerror(rc));
		free(j);
		return;
	}
	s->jobs[s->njobs++] = j;
	/* Hold the virtual clock until the query has left (or the lookup needed no query). */
	for (long waited = 0; waited < RESOLVE_WAIT_S * 1000000L; waited += 100) {
		pthread_mutex_lock(&j->mu);
		bool done = j->done;
		pthread_mutex_unlock(&j->mu);
		if (done || us_stack_stat(st, US_STAT_UDP_TX) != tx0)
			return;
		sleep_us(100);
	}
	script_error(s, e, "the resolver sent no query within %d s", RESOLVE_WAIT_S);
}

static void check_resolve(struct rp_script *s, struct resolve_job *j, FILE *log)
{
	const struct event *e = j->ev;
	j->checked = true;
	char a[INET_ADDRSTRLEN] = "", x[INET_ADDRSTRLEN] = "";
	if (j->rc == 0)
		inet_ntop(AF_INET, &j->addr, a, sizeof a);
	if (log)
		fprintf(log, "  %s:%d: resolve %s: %s%s%s\n", s->path, e->line, e->name,
			j->rc == 0 ? a : us_gai_strerror(j->rc), j->detail[0] ? ": " : "",
			j->detail);
	if (e->expect_error) {
		if (j->rc != e->expect_error)
			script_error(s, e, "%s: got %s, expected %s", e->name,
				     j->rc == 0 ? a : us_gai_strerror(j->rc),
				     us_gai_strerror(e->expect_error));
		return;
	}
	if (j->rc != 0) {
		script_error(s, e, "%s: %s%s%s", e->name, us_gai_strerror(j->rc),
			     j->detail[0] ? ": " : "", j->detail);
		return;
	}
	if (e->have_expect_addr && j->addr.s_addr != e->expect_addr.s_addr) {
		inet_ntop(AF_INET, &e->expect_addr, x, sizeof x);
		script_error(s, e, "%s: got %s, expected %s", e->name, a, x);
	}
}

static void describe_event(char *b, size_t cap, const struct event *e)
{
	char a[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &e->to.sin_addr, a, sizeof a);
	switch (e->op) {
	case OP_TCP_LISTEN:
		snprintf(b, cap, "port %d backlog %d", e->port, e->backlog);
		break;
	case OP_TCP_CONNECT:
	case OP_UDP_SEND:
		snprintf(b, cap, "%s%s to %s:%u", e->on, e->op == OP_UDP_SEND ? "" : e->as, a,
			 ntohs(e->to.sin_port));
		break;
	case OP_PING:
		snprintf(b, cap, "%s seq %d size %d", a, e->seq, e->size);
		break;
	case OP_RESOLVE:
		snprintf(b, cap, "%s", e->name);
		break;
	case OP_SEND:
		snprintf(b, cap, "on %s: %zu bytes", e->on, e->dlen);
		break;
	default:
		snprintf(b, cap, "%s%s%s", e->on, e->on[0] && e->as[0] ? " as " : "", e->as);
		break;
	}
}

void rp_script_run(struct rp_script *s, size_t i, us_stack *st, FILE *log)
{
	const struct event *e = &s->ev[i];
	struct named *n;
	int fd;
	if (log) {
		char d[400];
		uint64_t now = us_stack_now(st);
		describe_event(d, sizeof d, e);
		fprintf(log, "%4llu.%06llu   %s:%d: %s %s\n",
			(unsigned long long)(now / 1000000000ull),
			(unsigned long long)(now % 1000000000ull / 1000), s->path, e->line,
			rp_ops[e->op].name, d);
	}
	switch (e->op) {
	case OP_TCP_LISTEN:
	case OP_UDP_BIND: {
		bool udp = e->op == OP_UDP_BIND;
		fd = us_socket(st, AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			script_error(s, e, "socket: %s", strerror(errno));
			return;
		}
		apply_sockopts(s, e, st, fd);
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)(e->port > 0 ? e->port : 0)) };
		if (us_bind(st, fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			script_error(s, e, "bind to port %d: %s", e->port, strerror(errno));
			us_close(st, fd);
			return;
		}
		if (!udp && us_listen(st, fd, e->backlog) < 0) {
			script_error(s, e, "listen: %s", strerror(errno));
			us_close(st, fd);
			return;
		}
		struct event tmp = *e;
		if (!tmp.as[0])
			snprintf(tmp.as, sizeof tmp.as, "listen:%d", e->port);
		n = bind_name(s, &tmp, fd, udp);
		if (n && !udp)
			s->last_listener = (int)(n - s->names);
		return;
	}
	case OP_TCP_ACCEPT: {
		struct named *l = e->on[0] ? need(s, e)
				  : s->last_listener >= 0 ? &s->names[s->last_listener] : NULL;
		if (!l) {
			if (!e->on[0])
				script_error(s, e, "no listening socket (tcp_listen first)");
			return;
		}
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		fd = us_accept(st, l->fd, (struct sockaddr *)&peer, &pl);
		if (fd < 0 && errno == EAGAIN && !e->expect_error) {
			script_error(s, e, "no connection pending on %s", l->name);
			return;
		}
		if (!outcome(s, e, fd, errno, "accept"))
			return;
		us_fcntl(st, fd, F_SETFL, O_NONBLOCK);
		bind_name(s, e, fd, false);
		return;
	}
	case OP_TCP_CONNECT: {
		fd = us_socket(st, AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			script_error(s, e, "socket: %s", strerror(errno));
			return;
		}
		apply_sockopts(s, e, st, fd);
		if (e->port > 0) {
			struct sockaddr_in sa = { .sin_family = AF_INET,
						  .sin_port = htons((uint16_t)e->port) };
			if (us_bind(st, fd, (struct sockaddr *)&sa, sizeof sa) < 0)
				script_error(s, e, "bind to port %d: %s", e->port, strerror(errno));
		}
		int rc = us_connect(st, fd, (const struct sockaddr *)&e->to, sizeof e->to);
		if (rc < 0 && errno == EINPROGRESS)
			rc = 0;     /* the handshake goes on as the trace runs */
		bind_name(s, e, fd, false);
		outcome(s, e, rc, errno, "connect");
		return;
	}
	case OP_SEND:
	case OP_UDP_SEND: {
		if (!(n = need(s, e)))
			return;
		uint8_t *p = payload_of(e, n->sent);
		if (!p) {
			script_error(s, e, "out of memory");
			return;
		}
		ssize_t r = e->op == OP_SEND
			? us_send(st, n->fd, p, e->dlen, MSG_DONTWAIT)
			: us_sendto(st, n->fd, p, e->dlen, MSG_DONTWAIT,
				    (const struct sockaddr *)&e->to, sizeof e->to);
		int err = errno;
		if (p != e->data)
			free(p);
		if (!outcome(s, e, r, err, "send"))
			return;
		n->sent += (uint64_t)r;
		if ((size_t)r != e->dlen)
			script_error(s, e, "only %zd of %zu bytes accepted (send buffer full)", r,
				     e->dlen);
		return;
	}
	case OP_RECV:
		if ((n = need(s, e)))
			do_recv(s, e, st, n);
		return;
	case OP_UDP_RECV: {
		if (!(n = need(s, e)))
			return;
		static uint8_t buf[65536];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = us_recvfrom(st, n->fd, buf, sizeof buf, MSG_DONTWAIT,
					(struct sockaddr *)&from, &fl);
		if (r < 0 && errno == EAGAIN && !e->expect_error) {
			script_error(s, e, "no datagram waiting on %s", n->name);
			return;
		}
		if (!outcome(s, e, r, errno, "recvfrom"))
			return;
		if (e->have_expect && ((size_t)r != e->elen || memcmp(buf, e->expect, e->elen))) {
			char a[96], b[96];
			excerpt(a, sizeof a, e->expect, e->elen);
			excerpt(b, sizeof b, buf, (size_t)r);
			script_error(s, e, "on %s: expected %s, got %s", n->name, a, b);
		}
		if (e->have_from && (from.sin_addr.s_addr != e->from.sin_addr.s_addr ||
				     (e->from.sin_port && from.sin_port != e->from.sin_port))) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &from.sin_addr, a, sizeof a);
			script_error(s, e, "datagram came from %s:%u", a, ntohs(from.sin_port));
		}
		return;
	}
	case OP_SHUTDOWN:
		if ((n = need(s, e)))
			outcome(s, e, us_shutdown(st, n->fd, e->how), errno, "shutdown");
		return;
	case OP_CLOSE:
		if ((n = need(s, e))) {
			if (us_close(st, n->fd) < 0)
				script_error(s, e, "close: %s", strerror(errno));
			*n = s->names[--s->nnames];
			if (s->last_listener == s->nnames)
				s->last_listener = (int)(n - s->names);
			else if (s->last_listener == (int)(n - s->names))
				s->last_listener = -1;
		}
		return;
	case OP_SETSOCKOPT:
		if ((n = need(s, e)))
			apply_sockopts(s, e, st, n->fd);
		return;
	case OP_SO_ERROR: {
		if (!(n = need(s, e)))
			return;
		int v = 0;
		socklen_t l = sizeof v;
		if (us_getsockopt(st, n->fd, SOL_SOCKET, SO_ERROR, &v, &l) < 0)
			script_error(s, e, "getsockopt SO_ERROR: %s", strerror(errno));
		else if (v != e->expect_error)
			script_error(s, e, "SO_ERROR on %s is %s (%s), expected %s", n->name,
				     v ? rp_errname(v) : "0", v ? strerror(v) : "no error",
				     e->expect_error ? rp_errname(e->expect_error) : "0");
		return;
	}
	case OP_PING: {
		if (s->ping_h < 0 && (s->ping_h = us_ping_open(st, &s->ping_id)) < 0) {
			script_error(s, e, "us_ping_open: %s", strerror(errno));
			return;
		}
		uint8_t *p = malloc(e->size ? (size_t)e->size : 1);
		if (!p) {
			script_error(s, e, "out of memory");
			return;
		}
		for (int k = 0; k < e->size; k++)
			p[k] = rp_pattern_byte((uint64_t)k);
		if (us_ping_send(st, s->ping_h, e->to.sin_addr, (uint16_t)e->seq, (uint8_t)e->ttl, p,
				 (size_t)e->size) < 0)
			script_error(s, e, "us_ping_send: %s", strerror(errno));
		free(p);
		return;
	}
	case OP_PING_RECV: {
		if (s->ping_h < 0) {
			script_error(s, e, "no ping sent yet");
			return;
		}
		struct us_echo_reply rep;
		static uint8_t buf[65536];
		int r = us_ping_recv(st, s->ping_h, &rep, buf, sizeof buf, 0);
		if (r < 0) {
			script_error(s, e, "no reply waiting (%s)", strerror(errno));
			return;
		}
		if (rep.error && !e->expect_error)
			script_error(s, e, "got an error: %s (ICMP type %u code %u)",
				     strerror(rep.error), rep.icmp_type, rep.icmp_code);
		else if (e->expect_error && rep.error != e->expect_error)
			script_error(s, e, "got %s, expected %s", rep.error ? rp_errname(rep.error)
				     : "a reply", rp_errname(e->expect_error));
		if (e->seq >= 0 && rep.seq != e->seq)
			script_error(s, e, "reply seq %u, expected %d", rep.seq, e->seq);
		if (e->have_from && rep.from.s_addr != e->from.sin_addr.s_addr) {
			char a[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &rep.from, a, sizeof a);
			script_error(s, e, "reply from %s", a);
		}
		return;
	}
	case OP_RESOLVE:
		do_resolve(s, e, st);
		return;
	case OP__COUNT:
		break;
	}
}

void rp_script_finish(struct rp_script *s, us_stack *st, FILE *log)
{
	(void)st;
	for (int i = 0; i < s->njobs; i++) {
		struct resolve_job *j = s->jobs[i];
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += RESOLVE_WAIT_S;
		pthread_mutex_lock(&j->mu);
		while (!j->done)
			if (pthread_cond_timedwait(&j->cv, &j->mu, &dl) == ETIMEDOUT)
				break;
		bool done = j->done;
		pthread_mutex_unlock(&j->mu);
		if (!done) {
			script_error(s, j->ev, "%s: no answer by the end of the trace", j->ev->name);
			j->checked = true;
			continue;
		}
		check_resolve(s, j, log);
	}
}

void rp_script_free(struct rp_script *s, us_stack *st)
{
	if (!s)
		return;
	for (int i = 0; i < s->njobs; i++) {
		struct resolve_job *j = s->jobs[i];
		pthread_join(j->th, NULL);   /* the stack is stopped: the resolver has returned */
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cv);
		free(j);
	}
	if (st) {
		for (int i = 0; i < s->nnames; i++)
			us_close(st, s->names[i].fd);
		if (s->ping_h >= 0)
			us_ping_close(st, s->ping_h);
	}
	for (size_t i = 0; i < s->nev; i++) {
		free(s->ev[i].data);
		free(s->ev[i].expect);
	}
	free(s->ev);
	free(s);
}
