/*
 * services.c — echo, discard and chargen for ustackd (see services.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/http_service.h"
#include "tools/common/services.h"

#define MAX_CONNS   4096        /* connections per TCP service */
#define IOBUF       65536

struct conn {
	int fd;
	size_t off, len;            /* echo: bytes waiting to go back */
	size_t gen;                 /* chargen: position in the pattern */
	uint8_t *buf;
};

struct svc {
	us_stack *st;
	struct us_service_config c;
	pthread_t th;
	bool started;
	int lfd;
	struct conn *conns;
	int nconns;
	const _Atomic bool *stop;   /* the owner's stop flag */
};

struct us_services {
	_Atomic bool stop;
	int n;
	struct svc s[US_MAX_SERVICES];
	int nhttp;
	struct us_http *http[US_MAX_SERVICES];   /* the http services (http_service.c) */
};


static const char *type_name(enum us_service_type t)
{
	return t == US_SVC_ECHO ? "echo" : t == US_SVC_DISCARD ? "discard"
	       : t == US_SVC_CHARGEN ? "chargen" : "http";
}

/* RFC 864: 72-character lines rotating through the 95 printable characters. */
static size_t chargen_fill(uint8_t *out, size_t cap, size_t *pos)
{
	size_t n = 0;
	while (n < cap) {
		size_t line = *pos / 74, col = *pos % 74;
		uint8_t ch = col < 72 ? (uint8_t)(' ' + (line + col) % 95) : col == 72 ? '\r' : '\n';
		out[n++] = ch;
		(*pos)++;
	}
	return n;
}

static void conn_close(struct svc *v, int i)
{
	us_close(v->st, v->conns[i].fd);
	free(v->conns[i].buf);
	v->conns[i] = v->conns[--v->nconns];
}

/* Serve one TCP connection that poll marked ready. False: close it. */
static bool tcp_serve(struct svc *v, struct conn *c, short rev)
{
	static _Thread_local uint8_t tmp[IOBUF];
	if (rev & (POLLIN | POLLHUP | POLLERR)) {
		if (v->c.type != US_SVC_ECHO || c->len == 0) {
			uint8_t *dst = v->c.type == US_SVC_ECHO ? c->buf : tmp;
			ssize_t n = us_recv(v->st, c->fd, dst, IOBUF, MSG_DONTWAIT);
			if (n == 0)
				return false;
			if (n < 0 && errno != EAGAIN)
				return false;
			if (n > 0 && v->c.type == US_SVC_ECHO) {
				c->off = 0;
				c->len = (size_t)n;
			}
		}
	}
	if (v->c.type == US_SVC_ECHO && c->len) {
		ssize_t n = us_send(v->st, c->fd, c->buf + c->off, c->len, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN)
			return false;
		if (n > 0) {
			c->off += (size_t)n;
			c->len -= (size_t)n;
		}
	}
	if (v->c.type == US_SVC_CHARGEN && (rev & POLLOUT)) {
		size_t pos = c->gen;
		size_t n = chargen_fill(tmp, IOBUF, &pos);
		ssize_t w = us_send(v->st, c->fd, tmp, n, MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN)
			return false;
		if (w > 0)
			c->gen += (size_t)w;
	}
	return true;
}

static void *tcp_main(void *arg)
{
	struct svc *v = arg;
	struct pollfd *p = calloc(MAX_CONNS + 1, sizeof *p);
	if (!p)
		return NULL;
	while (!atomic_load(v->stop)) {
		p[0] = (struct pollfd){ .fd = v->lfd, .events = POLLIN };
		for (int i = 0; i < v->nconns; i++) {
			short ev = POLLIN;
			if ((v->c.type == US_SVC_ECHO && v->conns[i].len) || v->c.type == US_SVC_CHARGEN)
				ev = v->c.type == US_SVC_ECHO ? POLLOUT : POLLIN | POLLOUT;
			p[i + 1] = (struct pollfd){ .fd = v->conns[i].fd, .events = ev };
		}
		int n = us_poll(v->st, p, (nfds_t)v->nconns + 1, 100);
		if (n < 0)
			break;
		if (n == 0)
			continue;
		/* Serve existing connections first (indices shift on close: go backwards). */
		int count = v->nconns;
		for (int i = count - 1; i >= 0; i--)
			if (p[i + 1].revents && !tcp_serve(v, &v->conns[i], p[i + 1].revents))
				conn_close(v, i);
		if (p[0].revents & POLLIN) {
			for (;;) {
				int fd = us_accept(v->st, v->lfd, NULL, NULL);
				if (fd < 0)
					break;
				if (v->nconns == MAX_CONNS) {
					us_close(v->st, fd);
					continue;
				}
				us_fcntl(v->st, fd, F_SETFL, O_NONBLOCK);
				struct conn *c = &v->conns[v->nconns];
				*c = (struct conn){ .fd = fd };
				if (v->c.type == US_SVC_ECHO && !(c->buf = malloc(IOBUF))) {
					us_close(v->st, fd);
					continue;
				}
				v->nconns++;
			}
		}
	}
	while (v->nconns)
		conn_close(v, v->nconns - 1);
	free(p);
	return NULL;
}

static void *udp_main(void *arg)
{
	struct svc *v = arg;
	uint8_t *buf = malloc(IOBUF);
	if (!buf)
		return NULL;
	size_t gen = 0;
	while (!atomic_load(v->stop)) {
		struct pollfd p = { .fd = v->lfd, .events = POLLIN };
		if (us_poll(v->st, &p, 1, 100) <= 0)
			continue;
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = us_recvfrom(v->st, v->lfd, buf, IOBUF, MSG_DONTWAIT, (struct sockaddr *)&from,
					&fl);
		if (n < 0)
			continue;
		if (v->c.type == US_SVC_ECHO) {
			us_sendto(v->st, v->lfd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
		} else if (v->c.type == US_SVC_CHARGEN) {
			/* RFC 864 UDP: a datagram of 0..512 characters per datagram received. */
			size_t len = (size_t)(gen * 7919 % 513);
			size_t pos = gen;
			chargen_fill(buf, len, &pos);
			gen++;
			us_sendto(v->st, v->lfd, buf, len, 0, (struct sockaddr *)&from, fl);
		}
	}
	free(buf);
	return NULL;
}

struct us_services *us_services_start(us_stack *st, const struct us_config *cfg)
{
	struct us_services *sv = calloc(1, sizeof *sv);
	if (!sv)
		return NULL;
	atomic_init(&sv->stop, false);
	for (int i = 0; i < cfg->nservices; i++) {
		const struct us_service_config *c = &cfg->services[i];
		if (c->type == US_SVC_HTTP) {
			if (!(sv->http[sv->nhttp] = us_http_start(st, c, cfg->log_level))) {
				us_services_stop(sv);
				return NULL;
			}
			sv->nhttp++;
			continue;
		}
		struct svc *v = &sv->s[sv->n];
		v->st = st;
		v->c = *c;
		v->stop = &sv->stop;
		bool tcp = c->proto != IPPROTO_UDP;
		v->lfd = us_socket(st, AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
		int one = 1;
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(c->port) };
		if (v->lfd < 0 ||
		    us_setsockopt(st, v->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
		    us_bind(st, v->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
		    (tcp && us_listen(st, v->lfd, 1024) < 0)) {
			fprintf(stderr, "ustackd: %s/%s port %u: %s\n", type_name(c->type),
				tcp ? "tcp" : "udp", c->port, strerror(errno));
			us_services_stop(sv);
			return NULL;
		}
		us_fcntl(st, v->lfd, F_SETFL, O_NONBLOCK);
		if (tcp && !(v->conns = calloc(MAX_CONNS, sizeof *v->conns))) {
			us_services_stop(sv);
			return NULL;
		}
		sv->n++;
		if (pthread_create(&v->th, NULL, tcp ? tcp_main : udp_main, v) != 0) {
			us_services_stop(sv);
			return NULL;
		}
		v->started = true;
		fprintf(stderr, "ustackd: %s on %s port %u\n", type_name(c->type), tcp ? "tcp" : "udp",
			c->port);
	}
	return sv;
}

void us_services_stop(struct us_services *sv)
{
	if (!sv)
		return;
	atomic_store(&sv->stop, true);
	for (int i = 0; i < sv->nhttp; i++)
		us_http_stop(sv->http[i]);
	for (int i = 0; i < sv->n; i++) {
		struct svc *v = &sv->s[i];
		if (v->started)
			pthread_join(v->th, NULL);
		if (v->lfd >= 0)
			us_close(v->st, v->lfd);
		free(v->conns);
	}
	free(sv);
}
