/*
 * uscurl — an HTTP/1.1 client in the manner of curl, over ustack.
 *
 * `uscurl [options] URL` brings up its own stack (--stack-config or the quick flags),
 * resolves the host with the stack's resolver (or --resolve), connects,
 * sends one request and writes the body to standard output or a file;
 * with -L it follows redirects, reusing the connection when the server
 * allows and the host and port stay the same. Options, messages
 * ("uscurl: (7) Failed to connect to ...") and exit codes are curl's,
 * for the subset doc/man/uscurl.1 lists. Bodies may be framed by
 * Content-Length, the chunked coding (trailers included) or the end of
 * the connection; they are copied byte for byte.
 *
 * Structure: http_client.c has the pure parts (URL, head, chunked, -w and
 * progress formats); uscurl_opts.c reads the command line; this file does
 * sockets, timing, retries and files.
 * One thread does the transfer (non-blocking socket, us_poll with the
 * --max-time deadline); names are resolved on a helper thread so that
 * the deadline bounds a slow nameserver too.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "tools/common/cli.h"
#include "tools/common/http_client.h"
#include "tools/common/uscurl_opts.h"

#define RECV_CHUNK (256 * 1024)
#define DEFAULT_CONNECT_TIMEOUT_S 300.0   /* curl's default */

#define EXPECT_100_TIMEOUT_MS 1000  /* curl's wait for "100 Continue" before sending anyway */
#define RETRY_SLEEP_DEFAULT_MS 1000  /* curl's first --retry wait, doubled each time ... */
#define RETRY_SLEEP_MAX_MS 600000    /* ... up to ten minutes */
#define UPLOAD_CHUNK 65536

/* One TCP connection, kept between requests when the server allows. */
struct conn {
	int fd;                         /* -1: none */
	int id;                         /* curl's "#N" */
	char host[HC_HOST_MAX];
	uint16_t port;
	struct sockaddr_in addr;
	bool reusable;
};

/* Everything one run of uscurl knows. */
struct run {
	struct opts *o;
	us_stack *st;
	uint64_t t0;                    /* monotonic ns at the start */
	uint64_t deadline;              /* --max-time, 0: none */
	bool resolver_abandoned;        /* a resolver thread still uses the stack */

	struct conn c;
	int next_conn_id;
	char *rbuf;                     /* received bytes not yet used: rbuf[0..rlen) */
	size_t rlen, rcap;

	/* The output sink. */
	FILE *out;
	bool out_is_file;               /* a file we opened (meter, close) */
	bool out_failed;
	const char *out_name;

	uint64_t out_init;              /* where this attempt's bytes begin in the file */
	uint64_t out_bytes;             /* body bytes written by this attempt */
	FILE *hdr;                      /* -D */
	bool hdr_is_file;

	/* The progress meter (curl's), or the -# bar. */
	bool meter;                     /* not -s, not --no-progress-meter, not to a terminal */
	bool meter_started;             /* the heading is out (once per run, as curl) */
	bool meter_midline;             /* a status line without its newline is on stderr */
	bool meter_running;             /* this attempt's meter is drawn, not yet ended */
	struct hc_meter pm;
	struct hc_bar bar;
	int64_t expected;               /* Content-Length of the body being saved, -1 unknown */

	/* The upload (-T). */
	FILE *up;
	int64_t up_size;                /* -1: unknown (standard input, sent chunked) */
	uint64_t rate_start_ns, rate_bytes;     /* --limit-rate's reference point */

	/* What -w reports. */
	int http_code;
	int http_minor;                 /* -1: no response */
	int num_redirects, num_connects;
	int64_t retry_after;            /* the last response's Retry-After, seconds (0: none) */
	int connect_errno;              /* why the last connect failed */
	bool resume_ignore;             /* 416 to a resume: the file is complete */
	char *last_head;                /* the last response head (malloc), for header_json */
	size_t last_head_len;
	bool connected;                 /* a connection was made: scheme is known */
	uint64_t size_download, size_header, size_request, size_upload;
	double t_namelookup, t_connect, t_pretransfer, t_starttransfer, t_redirect;
	char url_effective[HC_URL_MAX];
	char redirect_url[HC_URL_MAX];
	char content_type[256];
	char remote_ip[INET_ADDRSTRLEN], local_ip[INET_ADDRSTRLEN];
	int remote_port, local_port;
	char method[32];
	char errmsg[HC_URL_MAX + 256];
	char req[HC_REQUEST_MAX];       /* the request head being sent */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double elapsed_s(const struct run *x)
{
	return (double)(now_ns() - x->t0) / 1e9;
}

static long long elapsed_ms(const struct run *x)
{
	return (long long)((now_ns() - x->t0) / 1000000ull);
}

static int fail(struct run *x, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Record the error message (printed once, at the end) and return code. */
static int fail(struct run *x, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->errmsg, sizeof x->errmsg, fmt, ap);
	va_end(ap);
	return code;
}

/* Before a verbose line: end the meter's status line, so the two do not run together. */
static void meter_break(struct run *x)
{
	if (x->meter_midline) {
		fputc('\n', stderr);
		x->meter_midline = false;
	}
}

static void info(struct run *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A verbose "* " line. */
static void info(struct run *x, const char *fmt, ...)
{
	if (!x->o->verbose)
		return;
	meter_break(x);
	va_list ap;
	va_start(ap, fmt);
	fputs("* ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- Name resolution -------------------------------------------------- */

struct rjob {
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* done became true */
	bool done, abandoned;
	us_stack *st;
	char host[HC_HOST_MAX];
	int rc;
	struct in_addr addr;
	char detail[256];
};

static void *resolve_main(void *arg)
{
	struct rjob *j = arg;
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int rc = us_getaddrinfo(j->st, j->host, NULL, &hints, &res);
	pthread_mutex_lock(&j->mu);
	j->rc = rc;
	if (rc == 0) {
		j->addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
		us_freeaddrinfo(res);
	}
	snprintf(j->detail, sizeof j->detail, "%s", rc ? us_resolver_detail() : "");
	j->done = true;
	bool abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned) {
		pthread_mutex_destroy(&j->mu);
		pthread_cond_destroy(&j->cv);
		free(j);
	}
	return NULL;
}

/* The deadline for resolving and connecting: --connect-timeout and --max-time. */
static uint64_t connect_deadline(const struct run *x, uint64_t start, bool *by_max_time)
{
	double ct = x->o->connect_timeout > 0 ? x->o->connect_timeout : DEFAULT_CONNECT_TIMEOUT_S;
	uint64_t d = start + (uint64_t)(ct * 1e9);
	*by_max_time = false;
	if (x->deadline && x->deadline <= d) {
		d = x->deadline;
		*by_max_time = true;
	}
	return d;
}

static int timed_out(struct run *x, bool by_max_time, const char *what)
{
	if (by_max_time)
		return fail(x, HC_OPERATION_TIMEDOUT,
			    "Operation timed out after %lld milliseconds with %llu bytes received",
			    elapsed_ms(x), (unsigned long long)x->size_download);
	return fail(x, HC_OPERATION_TIMEDOUT, "%s timed out after %lld milliseconds", what,
		    elapsed_ms(x));
}

static int resolve(struct run *x, const struct hc_url *u, struct in_addr *out)
{
	for (int i = 0; i < x->o->nresolves; i++) {
		const struct resolve_entry *e = &x->o->resolves[i];
		if (strcasecmp(e->host, u->host) == 0 && (e->port < 0 || e->port == u->port)) {
			char a[INET_ADDRSTRLEN];
			info(x, "Resolved %s:%u to %s (from --resolve)", u->host, u->port,
			     inet_ntop(AF_INET, &e->addr, a, sizeof a));
			*out = e->addr;
			return HC_OK;
		}
	}
	if (inet_pton(AF_INET, u->host, out) == 1)
		return HC_OK;

	struct rjob *j = calloc(1, sizeof *j);
	if (!j)
		return fail(x, HC_FAILED_INIT, "out of memory");
	pthread_mutex_init(&j->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->cv, &ca);
	pthread_condattr_destroy(&ca);
	j->st = x->st;
	snprintf(j->host, sizeof j->host, "%s", u->host);
	pthread_t th;
	if (pthread_create(&th, NULL, resolve_main, j) != 0) {
		free(j);
		return fail(x, HC_FAILED_INIT, "cannot start the resolver thread");
	}
	pthread_detach(th);
	bool by_max;
	uint64_t dl = connect_deadline(x, now_ns(), &by_max);
	struct timespec ts = { (time_t)(dl / 1000000000ull), (long)(dl % 1000000000ull) };
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		if (pthread_cond_timedwait(&j->cv, &j->mu, &ts) == ETIMEDOUT && !j->done)
			break;
	if (!j->done) {
		/* The thread frees the job when the stack's resolver gives up. */
		j->abandoned = true;
		pthread_mutex_unlock(&j->mu);
		x->resolver_abandoned = true;
		return timed_out(x, by_max, "Resolving");
	}
	pthread_mutex_unlock(&j->mu);
	int rc = j->rc;
	*out = j->addr;
	if (rc != 0)
		info(x, "getaddrinfo(\"%s\"): %s%s%s", u->host, us_gai_strerror(rc),
		     j->detail[0] ? ": " : "", j->detail);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
	if (rc != 0)
		return fail(x, HC_COULDNT_RESOLVE_HOST, "Could not resolve host: %s", u->host);
	return HC_OK;
}

/* ---- Connections ------------------------------------------------------ */

static void conn_close(struct run *x)
{
	if (x->c.fd >= 0) {
		us_close(x->st, x->c.fd);
		x->c.fd = -1;
	}
	x->c.reusable = false;
	x->rlen = 0;
}

static int conn_open(struct run *x, const struct hc_url *u)
{
	uint64_t start = now_ns();
	struct in_addr a;
	int rc = resolve(x, u, &a);
	x->t_namelookup = elapsed_s(x);
	if (rc)
		return rc;
	char as[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &a, as, sizeof as);
	info(x, "  Trying %s:%u...", as, u->port);

	int fd = us_socket(x->st, AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return fail(x, HC_COULDNT_CONNECT, "socket: %s", strerror(errno));
	bool by_max;
	uint64_t dl = connect_deadline(x, start, &by_max);
	uint64_t now = now_ns();
	if (now >= dl) {
		us_close(x->st, fd);
		return timed_out(x, by_max, "Connection");
	}
	uint64_t left = dl - now;
	struct timeval tv = { (time_t)(left / 1000000000ull), (suseconds_t)(left % 1000000000ull / 1000) };
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	us_setsockopt(x->st, fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(u->port), .sin_addr = a };
	if (us_connect(x->st, fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		x->connect_errno = e;
		us_close(x->st, fd);
		if (e == EINPROGRESS)   /* SO_SNDTIMEO lapsed */
			return timed_out(x, by_max, "Connection");
		/* curl 7.88: the reason in -v, its error text in the message. */
		info(x, "connect to %s port %u failed: %s", as, u->port, strerror(e));
		fail(x, HC_COULDNT_CONNECT, "Failed to connect to %s port %u after %lld ms: "
		     "Couldn't connect to server", u->host, u->port,
		     (long long)((now_ns() - start) / 1000000ull));
		info(x, "%s", x->errmsg);
		return HC_COULDNT_CONNECT;
	}
	x->t_connect = elapsed_s(x);
	/* As curl 7.88: remote_ip and remote_port only once connected. */
	snprintf(x->remote_ip, sizeof x->remote_ip, "%s", as);
	x->remote_port = u->port;
	x->num_connects++;
	x->connected = true;
	struct timeval zero = { 0 };
	us_setsockopt(x->st, fd, SOL_SOCKET, SO_SNDTIMEO, &zero, sizeof zero);
	us_fcntl(x->st, fd, F_SETFL, O_NONBLOCK);
	struct sockaddr_in la;
	socklen_t ll = sizeof la;
	if (us_getsockname(x->st, fd, (struct sockaddr *)&la, &ll) == 0) {
		inet_ntop(AF_INET, &la.sin_addr, x->local_ip, sizeof x->local_ip);
		x->local_port = ntohs(la.sin_port);
	}
	x->c.fd = fd;
	x->c.id = x->next_conn_id++;
	snprintf(x->c.host, sizeof x->c.host, "%s", u->host);
	x->c.port = u->port;
	x->c.addr = sa;
	x->c.reusable = false;
	x->rlen = 0;
	info(x, "Connected to %s (%s) port %u (#%d)", u->host, as, u->port, x->c.id);
	return HC_OK;
}

/* ---- The progress meter ----------------------------------------------- */

static uint64_t now_us(void)
{
	return now_ns() / 1000;
}

/*
 * curl's meter: the heading once per run (after "** Resuming transfer
 * ..." with -C), then a status line when a new second begins, and a final
 * one; or, with -#, the bar.
 */
static void meter_update(struct run *x, bool final)
{
	if (!x->meter)
		return;
	x->meter_running = true;
	int64_t ul_total = x->up ? x->up_size : x->o->has_data && !x->o->get ? (int64_t)x->o->data_len
									      : -1;
	if (x->o->bar) {
		hc_bar_update(&x->bar, stderr, now_us() / 1000, x->expected > 0 ? (uint64_t)x->expected : 0,
			      x->size_download, ul_total > 0 ? (uint64_t)ul_total : 0, x->size_upload);
		x->meter_midline = x->bar.calls > 0;
		return;
	}
	if (!hc_meter_calc(&x->pm, now_us(), x->size_download, x->size_upload, final))
		return;
	if (!x->meter_started) {
		if (x->o->resume && x->o->resume_from > 0)
			fprintf(stderr, "** Resuming transfer from byte position %lld\n",
				(long long)x->o->resume_from);
		fputs(hc_progress_heading, stderr);
		x->meter_started = true;
	}
	char line[160];
	hc_meter_line(&x->pm, line, sizeof line, x->expected, ul_total);
	fprintf(stderr, "\r%s", line);
	x->meter_midline = true;
	fflush(stderr);
}

/* The transfer is over (either way): the final line and its newline, as curl's Curl_pgrsDone. */
static void meter_end(struct run *x)
{
	if (!x->meter || !x->meter_running)
		return;
	if (x->o->bar) {
		hc_bar_end(&x->bar, stderr);
	} else {
		meter_update(x, true);
		fputc('\n', stderr);
	}
	x->meter_midline = false;
	x->meter_running = false;
	fflush(stderr);
}

/* ---- Output ----------------------------------------------------------- */

static int open_output(struct run *x)
{
	if (x->out)
		return HC_OK;
	if (x->out_failed)
		return HC_WRITE_ERROR;
	if (!x->out_name || strcmp(x->out_name, "-") == 0) {
		x->out = stdout;
		return HC_OK;
	}
	/* -C: append to what is there (curl opens "ab"). */
	bool append = x->o->resume && x->o->resume_from > 0;
	x->out = fopen(x->out_name, append ? "ab" : "wb");
	if (!x->out) {
		x->out_failed = true;
		info(x, "cannot open '%s': %s", x->out_name, strerror(errno));
		return fail(x, HC_WRITE_ERROR, "Failure writing output to destination");
	}
	x->out_init = append ? (uint64_t)x->o->resume_from : 0;
	x->out_is_file = true;
	return HC_OK;
}

static int out_write(struct run *x, const void *p, size_t n)
{
	int rc = open_output(x);
	if (rc)
		return rc;
	if (n && fwrite(p, 1, n, x->out) != n)
		return fail(x, HC_WRITE_ERROR, "Failure writing output to destination: %s",
			    strerror(errno));
	x->out_bytes += n;
	return HC_OK;
}

/* -D: every response head as received, 1xx and redirects included. */
static int dump_head(struct run *x, const char *head, size_t n)
{
	if (!x->o->dump_header)
		return HC_OK;
	if (!x->hdr) {
		if (strcmp(x->o->dump_header, "-") == 0) {
			x->hdr = stdout;
		} else {
			x->hdr = fopen(x->o->dump_header, "wb");
			if (!x->hdr)
				return fail(x, HC_WRITE_ERROR, "Failed to open %s: %s", x->o->dump_header,
					    strerror(errno));
			x->hdr_is_file = true;
		}
	}
	if (fwrite(head, 1, n, x->hdr) != n)
		return fail(x, HC_WRITE_ERROR, "Failed writing header: %s", strerror(errno));
	fflush(x->hdr);
	return HC_OK;
}

/* Keep the last response head for %{header_json}, %header{} and %{num_headers}. */
static void keep_head(struct run *x, const char *head, size_t n)
{
	char *c = realloc(x->last_head, n ? n : 1);
	if (!c)
		return;
	memcpy(c, head, n);
	x->last_head = c;
	x->last_head_len = n;
}

/*
 * --limit-rate: sleep until the bytes moved since rate_start_ns are no
 * more than the limit allows (curl's Curl_pgrsLimitWaitTime), ticking the
 * meter and minding --max-time.
 */
static int throttle(struct run *x, size_t moved)
{
	uint64_t limit = x->o->limit_rate;
	if (!limit)
		return HC_OK;
	x->rate_bytes += moved;
	for (;;) {
		uint64_t min_ns = (uint64_t)((double)x->rate_bytes * 1e9 / (double)limit);
		uint64_t now = now_ns();
		uint64_t spent = now - x->rate_start_ns;
		if (spent >= min_ns)
			return HC_OK;
		if (x->deadline && now >= x->deadline)
			return HC_OK;           /* the next wait reports the timeout */
		uint64_t nap = min_ns - spent;
		if (nap > 100000000ull)
			nap = 100000000ull;
		struct timespec ts = { 0, (long)nap };
		nanosleep(&ts, NULL);
		meter_update(x, false);
	}
}

/* The most bytes to move at once under --limit-rate (about a tenth of a second's worth). */
static size_t rate_chunk(const struct run *x, size_t want)
{
	uint64_t limit = x->o->limit_rate;
	if (!limit)
		return want;
	uint64_t c = limit / 10 < 1024 ? 1024 : limit / 10;
	return c < want ? (size_t)c : want;
}

/* ---- Sending ---------------------------------------------------------- */

/* Wait until fd is ready for ev or the deadline passes (28), ticking the meter. */
static int wait_ready(struct run *x, short ev)
{
	for (;;) {
		int tmo = x->meter ? 500 : 1000;
		if (x->deadline) {
			uint64_t now = now_ns();
			if (now >= x->deadline)
				return timed_out(x, true, "");
			uint64_t left_ms = (x->deadline - now + 999999) / 1000000;
			if (left_ms < (uint64_t)tmo)
				tmo = (int)left_ms;
		}
		struct pollfd p = { .fd = x->c.fd, .events = ev };
		int r = us_poll(x->st, &p, 1, tmo);
		if (r < 0 && errno != EINTR)
			return fail(x, HC_RECV_ERROR, "poll: %s", strerror(errno));
		if (r > 0)
			return HC_OK;
		meter_update(x, false);
	}
}

static int send_all(struct run *x, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = us_send(x->st, x->c.fd, p, n, MSG_DONTWAIT);
		if (w < 0) {
			if (errno != EAGAIN)
				return fail(x, HC_SEND_ERROR, "Send failure: %s", strerror(errno));
			int rc = wait_ready(x, POLLOUT);
			if (rc)
				return rc;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return HC_OK;
}

/*
 * Receive more bytes onto the end of rbuf. *got is 0 at the end of the
 * stream. Errors: 28 (deadline), 56 (reset or another receive error).
 */
static int recv_more(struct run *x, size_t *got)
{
	if (x->rcap - x->rlen < RECV_CHUNK) {
		size_t nc = x->rlen + RECV_CHUNK;
		char *nb = realloc(x->rbuf, nc);
		if (!nb)
			return fail(x, HC_RECV_ERROR, "out of memory");
		x->rbuf = nb;
		x->rcap = nc;
	}
	for (;;) {
		if (x->deadline && now_ns() >= x->deadline)
			return timed_out(x, true, "");
		ssize_t n = us_recv(x->st, x->c.fd, x->rbuf + x->rlen, rate_chunk(x, x->rcap - x->rlen),
				    MSG_DONTWAIT);
		if (n >= 0) {
			x->rlen += (size_t)n;
			*got = (size_t)n;
			return HC_OK;
		}
		if (errno != EAGAIN)
			return fail(x, HC_RECV_ERROR, "Recv failure: %s", strerror(errno));
		int rc = wait_ready(x, POLLIN);
		if (rc)
			return rc;
	}
}

static void consume(struct run *x, size_t n)
{
	memmove(x->rbuf, x->rbuf + n, x->rlen - n);
	x->rlen -= n;
}

/* Body bytes out, under --limit-rate, counted in size_upload and the meter. */
static int send_counted(struct run *x, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = rate_chunk(x, n);
		int rc = send_all(x, p, k);
		if (rc)
			return rc;
		x->size_upload += k;
		meter_update(x, false);
		if ((rc = throttle(x, k)))
			return rc;
		p += k;
		n -= k;
	}
	return HC_OK;
}

/*
 * The request body: the -d data, or the -T file (from its start each
 * time: a 307/308 or a retry sends it again), or standard input in the
 * chunked coding (RFC 9112 7.1), which cannot be sent twice (65, curl's
 * "necessary data rewind wasn't possible").
 */
static int send_body(struct run *x)
{
	if (!x->up) {
		int rc = send_counted(x, x->o->data, x->o->data_len);
		if (!rc)
			info(x, "upload completely sent off: %zu bytes", x->o->data_len);
		return rc;
	}
	if (x->up != stdin && fseek(x->up, 0, SEEK_SET) != 0)
		return fail(x, HC_SEND_FAIL_REWIND, "necessary data rewind wasn't possible");
	if (x->up == stdin && x->up_size < 0 && (feof(stdin) || ferror(stdin)))
		return fail(x, HC_SEND_FAIL_REWIND, "necessary data rewind wasn't possible");
	static char buf[UPLOAD_CHUNK + 16];
	bool chunked = x->up_size < 0;
	uint64_t sent = 0;
	for (;;) {
		size_t n = fread(chunked ? buf + 10 : buf, 1, UPLOAD_CHUNK, x->up);
		if (n == 0) {
			if (ferror(x->up))
				return fail(x, HC_READ_ERROR, "Failed to read the upload file: %s",
					    strerror(errno));
			break;
		}
		int rc;
		if (chunked) {
			/* "%zx\r\n" right before the data, "\r\n" after it. */
			char len[12];
			int ll = snprintf(len, sizeof len, "%zx\r\n", n);
			memcpy(buf + 10 - ll, len, (size_t)ll);
			memcpy(buf + 10 + n, "\r\n", 2);
			rc = send_all(x, buf + 10 - ll, (size_t)ll);
			if (!rc)
				rc = send_counted(x, buf + 10, n);
			if (!rc)
				rc = send_all(x, "\r\n", 2);
		} else {
			rc = send_counted(x, buf, n);
		}
		if (rc)
			return rc;
		sent += n;
	}
	if (chunked) {
		int rc = send_all(x, "0\r\n\r\n", 5);
		if (rc)
			return rc;
	} else if ((int64_t)sent != x->up_size) {
		return fail(x, HC_READ_ERROR, "the upload file changed size while it was sent");
	}
	info(x, "We are completely uploaded and fine");
	return HC_OK;
}

/* ---- Requests --------------------------------------------------------- */

/*
 * The request head for u (hc_request_head has the rules for defaults
 * and -H). Returns its length in buf, or -1 if it is larger than buf.
 */
static long build_request(const struct run *x, char *buf, size_t buflen, const struct hc_url *u,
			  const char *method, bool with_body, bool other_host)
{
	char range[48];
	const char *rg = x->o->range;
	if (x->o->resume && x->o->resume_from > 0) {
		snprintf(range, sizeof range, "%lld-", (long long)x->o->resume_from);
		rg = range;
	}
	const struct opts *o = x->o;
	char cred[256] = "";
	if (o->user)
		snprintf(cred, sizeof cred, "%s", o->user);
	else
		hc_percent_decode(u->userinfo, cred, sizeof cred);
	struct hc_request rq = {
		.method = method,
		.url = u,
		.user_agent = o->user_agent ? o->user_agent : "uscurl/" USCURL_VERSION,
		.credentials = cred[0] ? cred : NULL,
		.range = rg,
		.headers = o->headers,
		.nheaders = o->nheaders,
		.body = !with_body ? HC_BODY_NO : !x->up ? HC_BODY_FORM
			: x->up_size < 0 ? HC_BODY_UPLOAD_CHUNKED : HC_BODY_UPLOAD,
		.body_len = x->up ? (size_t)(x->up_size < 0 ? 0 : x->up_size) : o->data_len,
		.other_host = other_host,
	};
	return hc_request_head(&rq, buf, buflen);
}

static void print_line_prefixed(void *arg, const char *line, size_t n)
{
	fprintf(stderr, "%s%.*s\r\n", (const char *)arg, (int)n, line);
}

/* ---- Responses -------------------------------------------------------- */

enum sink_kind { SINK_DISCARD, SINK_OUTPUT };

struct body_ctx {
	struct run *x;
	enum sink_kind kind;
	int rc;                         /* the write error, for the chunked callback */
};

static int body_data(void *arg, const char *p, size_t n)
{
	struct body_ctx *b = arg;
	if (b->kind == SINK_DISCARD)
		return 0;
	b->x->size_download += n;
	b->rc = out_write(b->x, p, n);
	meter_update(b->x, false);
	if (!b->rc)
		b->rc = throttle(b->x, n);
	return b->rc;
}

static void body_trailer(void *arg, const char *line, size_t n)
{
	struct body_ctx *b = arg;
	if (b->x->o->verbose) {
		meter_break(b->x);
		fprintf(stderr, "< %.*s\r\n", (int)n, line);
	}
	if (b->kind == SINK_OUTPUT && (b->x->o->include || b->x->o->head) && !b->rc) {
		b->rc = out_write(b->x, line, n);
		if (!b->rc)
			b->rc = out_write(b->x, "\r\n", 2);
	}
}

/*
 * Read the body framed as r says into the sink. Sets x->c.reusable when
 * the connection may carry another request.
 */
static int read_body(struct run *x, const struct hc_response *r, enum sink_kind kind)
{
	struct body_ctx bc = { .x = x, .kind = kind };
	x->c.reusable = false;
	if (r->framing == HC_BODY_NONE) {
		x->c.reusable = r->keep_alive && x->rlen == 0;
		return HC_OK;
	}
	uint64_t left = r->content_length;
	struct hc_chunked ch;
	hc_chunked_init(&ch);
	char cerr[200];
	for (;;) {
		/* Use what is buffered. */
		if (r->framing == HC_BODY_LENGTH) {
			size_t n = x->rlen < left ? x->rlen : (size_t)left;
			if (n && body_data(&bc, x->rbuf, n))
				return bc.rc;
			consume(x, n);
			left -= n;
			if (left == 0) {
				x->c.reusable = r->keep_alive && x->rlen == 0;
				return HC_OK;
			}
		} else if (r->framing == HC_BODY_CHUNKED) {
			long used = hc_chunked_feed(&ch, x->rbuf, x->rlen, body_data, body_trailer, &bc,
						    cerr, sizeof cerr);
			if (used == -2)
				return bc.rc;
			if (used < 0)
				return fail(x, HC_RECV_ERROR, "%s", cerr);
			consume(x, (size_t)used);
			if (bc.rc)
				return bc.rc;
			if (ch.done) {
				x->c.reusable = r->keep_alive && x->rlen == 0;
				return HC_OK;
			}
		} else {
			if (x->rlen && body_data(&bc, x->rbuf, x->rlen))
				return bc.rc;
			x->rlen = 0;
		}
		size_t got;
		int rc = recv_more(x, &got);
		if (rc)
			return rc;
		if (got == 0) {
			if (r->framing == HC_BODY_CLOSE)
				return HC_OK;
			if (r->framing == HC_BODY_LENGTH)
				return fail(x, HC_PARTIAL_FILE,
					    "transfer closed with %llu bytes remaining to read",
					    (unsigned long long)left);
			return fail(x, HC_PARTIAL_FILE,
				    "transfer closed with outstanding read data remaining");
		}
	}
}

/*
 * Read one final (non-1xx) response head into head/headlen (bytes at the
 * start of rbuf, consumed by the caller). *nothing: the connection ended
 * before any byte came.
 */
static int read_head(struct run *x, bool head_request, struct hc_response *r, size_t *headlen,
		     bool *nothing)
{
	*nothing = false;
	bool any = false;
	for (;;) {
		size_t hl = hc_head_length(x->rbuf, x->rlen);
		if (hl) {
			char err[256];
			int rc = hc_parse_head(x->rbuf, hl, head_request, r, err, sizeof err);
			if (rc)
				return fail(x, rc, "%s", err);
			x->size_header += hl;
			x->http_minor = r->minor;
			keep_head(x, x->rbuf, hl);
			if ((rc = dump_head(x, x->rbuf, hl)))
				return rc;
			if (x->o->verbose) {
				meter_break(x);
				hc_head_lines(x->rbuf, hl, print_line_prefixed, "< ");
				fputs("< \r\n", stderr);
			}
			if (r->status / 100 == 1 && r->status != 101) {
				consume(x, hl);  /* 100 Continue and friends: the real one follows */
				continue;
			}
			*headlen = hl;
			return HC_OK;
		}
		if (x->rlen > HC_HEAD_MAX)
			return fail(x, HC_WEIRD_SERVER_REPLY,
				    "Weird server reply: response headers larger than %d bytes", HC_HEAD_MAX);
		size_t got;
		int rc = recv_more(x, &got);
		if (rc) {
			if (rc == HC_RECV_ERROR && !any)
				*nothing = true;
			return rc;
		}
		if (got == 0) {
			if (!any && x->rlen == 0) {
				*nothing = true;
				return fail(x, HC_GOT_NOTHING, "Empty reply from server");
			}
			return fail(x, HC_WEIRD_SERVER_REPLY,
				    "Weird server reply: the connection closed inside the headers");
		}
		if (!any)
			x->t_starttransfer = elapsed_s(x);
		any = true;
	}
}

/* ---- One transfer, redirects included ---------------------------------- */

static bool is_redirect(int s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/*
 * An upload was announced with "Expect: 100-continue" (RFC 9110 10.1.1):
 * wait up to EXPECT_100_TIMEOUT_MS for the server's word, as curl does.
 * A 1xx (or silence) means send the body; a final response before it
 * means the body is not wanted: *send false, and the connection cannot
 * carry another request.
 */
static int expect_100(struct run *x, bool *send)
{
	*send = true;
	uint64_t until = now_ns() + EXPECT_100_TIMEOUT_MS * 1000000ull;
	for (;;) {
		size_t hl = hc_head_length(x->rbuf, x->rlen);
		if (hl) {
			if (!(x->rlen >= 10 && x->rbuf[9] == '1')) {
				*send = false;
				info(x, "The server answered before the upload: not sending it");
				return HC_OK;
			}
			/* "100 Continue": shown, dumped and counted as read_head would. */
			x->size_header += hl;
			int rc = dump_head(x, x->rbuf, hl);
			if (rc)
				return rc;
			if (x->o->verbose) {
				meter_break(x);
				hc_head_lines(x->rbuf, hl, print_line_prefixed, "< ");
			}
			consume(x, hl);
			return HC_OK;
		}
		uint64_t now = now_ns();
		if (now >= until || (x->deadline && now >= x->deadline))
			return HC_OK;
		uint64_t end = x->deadline && x->deadline < until ? x->deadline : until;
		struct pollfd p = { .fd = x->c.fd, .events = POLLIN };
		int r = us_poll(x->st, &p, 1, (int)((end - now + 999999) / 1000000));
		meter_update(x, false);
		if (r <= 0)
			continue;
		size_t got;
		int rc = recv_more(x, &got);
		if (rc || got == 0)
			return HC_OK;   /* read_head reports it */
	}
}

/*
 * -C: what the response says about the resume (curl's rules). Returns
 * HC_OK to go on writing the body, or *done for "nothing to write":
 * a 416 (the file is complete; its body is read away), or a 200 whose
 * length is exactly the resume offset ("The entire document is already
 * downloaded"). Anything else is 33: the server ignored the range.
 */
static int check_resume(struct run *x, const struct hc_response *r, bool *done)
{
	*done = false;
	if (!(x->o->resume && x->o->resume_from > 0) || strcmp(x->method, "GET") != 0)
		return HC_OK;
	if (r->status == 416) {
		x->resume_ignore = true;
		*done = true;
		return HC_OK;
	}
	if (r->status / 100 != 2)
		return HC_OK;
	if (r->has_range_start && r->range_start == (uint64_t)x->o->resume_from)
		return HC_OK;
	if (r->framing == HC_BODY_LENGTH && r->content_length == (uint64_t)x->o->resume_from) {
		info(x, "The entire document is already downloaded");
		conn_close(x);
		*done = true;
		return HC_OK;
	}
	conn_close(x);
	return fail(x, HC_RANGE_ERROR, "HTTP server doesn't seem to support byte ranges. Cannot resume.");
}

static int transfer(struct run *x)
{
	struct opts *o = x->o;
	struct hc_url u0, u;
	char err[256];
	int rc = hc_url_parse(o->url, &u0, err, sizeof err);
	if (rc)
		return fail(x, rc, "%s", err);
	u = u0;
	hc_url_format(&u, x->url_effective, sizeof x->url_effective);

	char method[32];
	bool post = o->has_data && !o->get;
	snprintf(method, sizeof method, "%s",
		 o->method ? o->method : o->head ? "HEAD" : x->up ? "PUT" : post ? "POST" : "GET");
	bool with_body = post || x->up;
	x->rate_start_ns = now_ns();
	x->rate_bytes = 0;
	meter_update(x, false);         /* curl draws its first line at the start */

	for (;;) {
		snprintf(x->method, sizeof x->method, "%s", method);
		bool head_request = strcasecmp(method, "HEAD") == 0;
		bool reused = false;
		if (x->c.fd >= 0 && x->c.reusable && strcasecmp(x->c.host, u.host) == 0 &&
		    x->c.port == u.port) {
			reused = true;
			info(x, "Re-using existing connection #%d with host %s", x->c.id, u.host);
		} else {
			if (x->c.fd >= 0) {
				info(x, "Closing connection #%d", x->c.id);
				conn_close(x);
			}
			if ((rc = conn_open(x, &u)))
				return rc;
		}
		x->t_pretransfer = elapsed_s(x);

		long reqlen = build_request(x, x->req, sizeof x->req, &u, method, with_body,
					    strcasecmp(u.host, u0.host) != 0);
		if (reqlen < 0)
			return fail(x, HC_FAILED_INIT, "the request headers are larger than %zu bytes",
				    sizeof x->req);
		if (o->verbose) {
			meter_break(x);
			hc_head_lines(x->req, (size_t)reqlen, print_line_prefixed, "> ");
			fputs("> \r\n", stderr);
		}
		struct hc_response r;
		size_t hl = 0;
		bool nothing = false, body_skipped = false;
		rc = send_all(x, x->req, (size_t)reqlen);
		x->size_request += (size_t)reqlen;
		if (!rc && with_body) {
			bool send = true;
			if (x->up || hc_expects_100(HC_BODY_FORM, o->data_len))
				rc = expect_100(x, &send);
			if (!rc && send)
				rc = send_body(x);
			body_skipped = !send;
		}
		if (!rc)
			rc = read_head(x, head_request, &r, &hl, &nothing);
		if (rc && reused && (nothing || rc == HC_SEND_ERROR)) {
			/* The server closed the idle connection first: once more, anew. */
			info(x, "Connection #%d died, retrying on a new one", x->c.id);
			conn_close(x);
			x->errmsg[0] = '\0';
			continue;
		}
		if (rc)
			return rc;
		x->http_code = r.status;
		x->retry_after = r.retry_after;
		if (!x->retry_after && r.retry_after_date) {
			time_t now = time(NULL);     /* a date: the seconds until then, as curl */
			x->retry_after = r.retry_after_date > now ? (int64_t)(r.retry_after_date - now) : 0;
		}
		snprintf(x->content_type, sizeof x->content_type, "%s", r.content_type);
		x->redirect_url[0] = '\0';
		char next[HC_URL_MAX];
		bool have_next = false;
		if (is_redirect(r.status) && r.has_location) {
			if (hc_url_join(&u, r.location, next, sizeof next) < 0)
				return fail(x, HC_URL_MALFORMAT, "Location too long to follow");
			have_next = true;
			snprintf(x->redirect_url, sizeof x->redirect_url, "%s", next);
		}

		if (o->follow && have_next) {
			if (o->max_redirs >= 0 && x->num_redirects >= o->max_redirs)
				return fail(x, HC_TOO_MANY_REDIRECTS, "Maximum (%ld) redirects followed",
					    o->max_redirs);
			if (o->include || o->head) {
				if ((rc = out_write(x, x->rbuf, hl)))
					return rc;
			}
			consume(x, hl);
			/* Read the redirect's body away if that keeps the connection. */
			if (r.keep_alive && r.framing != HC_BODY_CLOSE && !body_skipped) {
				if ((rc = read_body(x, &r, SINK_DISCARD)))
					return rc;
			} else {
				x->c.reusable = false;
			}
			struct hc_url nu;
			if ((rc = hc_url_parse(next, &nu, err, sizeof err)))
				return fail(x, rc, "%s", err);
			info(x, "Issue another request to this URL: '%s'", next);
			/* RFC 9110 §15.4: 301 and 302 turn POST into GET as browsers do; 303 all but HEAD. */
			if (((r.status == 301 || r.status == 302) && strcmp(method, "POST") == 0) ||
			    (r.status == 303 && !head_request)) {
				if (!o->method || r.status == 303)
					snprintf(method, sizeof method, "%s", "GET");
				with_body = false;
			}
			if (!x->c.reusable)
				conn_close(x);
			x->num_redirects++;
			x->t_redirect = elapsed_s(x);
			u = nu;
			hc_url_format(&u, x->url_effective, sizeof x->url_effective);
			continue;
		}

		x->expected = r.framing == HC_BODY_LENGTH ? (int64_t)r.content_length
			      : r.framing == HC_BODY_NONE ? 0 : -1;
		bool resume_done;
		if ((rc = check_resume(x, &r, &resume_done)))
			return rc;
		bool http_error = r.status >= 400 && !x->resume_ignore;
		if (o->fail && http_error) {
			conn_close(x);
			return fail(x, HC_HTTP_RETURNED_ERROR, "The requested URL returned error: %d",
				    r.status);
		}
		if (o->include || o->head) {
			if ((rc = out_write(x, x->rbuf, hl)))
				return rc;
		}
		consume(x, hl);
		if (resume_done) {
			x->expected = 0;
			if (x->c.fd >= 0 && (rc = read_body(x, &r, SINK_DISCARD)))
				return rc;
			conn_close(x);
			return HC_OK;
		}
		if (!(o->include || o->head) && (rc = open_output(x)))
			return rc;
		meter_update(x, false);
		rc = read_body(x, &r, SINK_OUTPUT);
		if (rc)
			return rc;
		if (body_skipped)
			x->c.reusable = false;
		if (x->c.reusable)
			info(x, "Connection #%d to host %s left intact", x->c.id, u.host);
		else
			info(x, "Closing connection #%d", x->c.id);
		if (o->fail_with_body && http_error)
			return fail(x, HC_HTTP_RETURNED_ERROR, "The requested URL returned error: %d",
				    r.status);
		return HC_OK;
	}
}

/* ---- main --------------------------------------------------------------- */

static uint64_t to_us(double s)
{
	return s > 0 ? (uint64_t)(s * 1e6 + 0.5) : 0;
}

static void print_writeout(struct run *x, int rc, double total)
{
	uint64_t tus = to_us(total);
	struct hc_writeout_vars v = {
		.http_code = x->http_code,
		.http_minor = x->http_minor,
		.num_redirects = x->num_redirects,
		.num_connects = x->num_connects,
		.exitcode = rc,
		.size_download = x->size_download,
		.size_header = x->size_header,
		.size_request = x->size_request,
		.size_upload = x->size_upload,
		.time_namelookup = to_us(x->t_namelookup),
		.time_connect = to_us(x->t_connect),
		.time_appconnect = 0,           /* no TLS */
		.time_pretransfer = to_us(x->t_pretransfer),
		.time_starttransfer = to_us(x->t_starttransfer),
		.time_redirect = to_us(x->t_redirect),
		.time_total = tus,
		.speed_download = tus ? x->size_download * 1000000 / tus : 0,
		.speed_upload = tus ? x->size_upload * 1000000 / tus : 0,
		.url = x->o->url,
		.url_effective = x->url_effective,
		.redirect_url = x->redirect_url[0] ? x->redirect_url : NULL,
		.content_type = x->content_type[0] ? x->content_type : NULL,
		.remote_ip = x->remote_ip,
		.remote_port = x->remote_port,
		.local_ip = x->local_ip,
		.local_port = x->local_port,
		.method = x->method,
		.errormsg = rc ? x->errmsg : NULL,
		.filename_effective = x->out_name && strcmp(x->out_name, "-") != 0 ? x->out_name : NULL,
		.scheme = x->connected ? "HTTP" : NULL,
		.version = "uscurl/" USCURL_VERSION " (ustack)",
		.head = x->last_head,
		.head_len = x->last_head_len,
	};
	hc_writeout(x->o->writeout, &v, stdout, stderr);
	fflush(stdout);
	fflush(stderr);
}

/* --retry: why this attempt may be retried, as curl's messages say it ("" none). */
static const char *retry_reason(const struct run *x, int rc)
{
	const struct opts *o = x->o;
	if (rc == HC_OPERATION_TIMEDOUT || rc == HC_COULDNT_RESOLVE_HOST)
		return ": timeout";
	if (rc == HC_COULDNT_CONNECT && o->retry_connrefused && x->connect_errno == ECONNREFUSED)
		return ": connection refused";
	if (rc == HC_OK || ((o->fail || o->fail_with_body) && rc == HC_HTTP_RETURNED_ERROR)) {
		switch (x->http_code) {
		case 408: case 429: case 500: case 502: case 503: case 504:
			return ": HTTP error";
		}
	}
	if (rc && o->retry_all)
		return "(retrying all errors)";
	return "";
}

/* Forget one attempt's response (its connection, counters and messages) before the next. */
static void reset_attempt(struct run *x)
{
	conn_close(x);
	x->http_code = 0;
	x->http_minor = -1;
	x->num_redirects = x->num_connects = 0;
	x->retry_after = 0;
	x->connect_errno = 0;
	x->resume_ignore = false;
	x->connected = false;
	x->size_download = x->size_header = x->size_request = x->size_upload = 0;
	x->t_namelookup = x->t_connect = x->t_pretransfer = x->t_starttransfer = x->t_redirect = 0;
	x->redirect_url[0] = x->content_type[0] = x->errmsg[0] = '\0';
	x->remote_ip[0] = x->local_ip[0] = '\0';
	x->remote_port = x->local_port = 0;
	x->last_head_len = 0;
	x->out_bytes = 0;
	x->expected = -1;
	x->t0 = now_ns();
	x->deadline = x->o->max_time > 0 ? x->t0 + (uint64_t)(x->o->max_time * 1e9) : 0;
	hc_meter_init(&x->pm, x->t0 / 1000);
	hc_bar_init(&x->bar, x->bar.width, x->o->resume ? x->o->resume_from : 0);
}

/* curl's -# width: $COLUMNS, else the terminal on standard input, else 79. */
static int bar_width(void)
{
	const char *c = getenv("COLUMNS");
	if (c) {
		char *end;
		long v = strtol(c, &end, 10);
		if (end != c && !*end && v > 20 && v < 10000)
			return (int)v;
	}
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		return ws.ws_col;
	return 79;
}

/* Open -T's source: its size, or -1 for standard input (sent chunked). */
static int open_upload(struct run *x)
{
	const char *f = x->o->upload;
	if (strcmp(f, "-") == 0) {
		x->up = stdin;
		x->up_size = -1;
		return HC_OK;
	}
	struct stat sb;
	x->up = fopen(f, "rb");
	if (!x->up || fstat(fileno(x->up), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (x->up)
			fclose(x->up);
		x->up = NULL;
		/* curl 7.88's words, before its (26). */
		if (!x->o->silent || x->o->show_error)
			fprintf(stderr, "uscurl: Can't open '%s'!\n"
				"uscurl: try 'uscurl --help' for more information\n", f);
		return fail(x, HC_READ_ERROR, "Failed to open/read local data from file/application");
	}
	x->up_size = (int64_t)sb.st_size;
	return HC_OK;
}

int main(int argc, char **argv)
{
	struct us_cli cli;
	us_cli_init(&cli, "uscurl");
	cli.no_short_config = true;     /* -C is curl's --continue-at */
	static struct opts o;
	int ex = uscurl_options(argc, argv, &cli, &o);
	if (ex >= 0) {
		uscurl_opts_free(&o);
		return ex;
	}
	bool show_errors = !o.silent || o.show_error;

	static struct run x;
	x.o = &o;
	x.c.fd = -1;
	x.http_minor = -1;
	x.expected = -1;
	x.t0 = now_ns();
	x.out_name = o.out_path;

	/* Refuse a bad URL and -O without a name before the stack comes up. */
	struct hc_url u;
	char err[256];
	int rc = hc_url_parse(o.url, &u, err, sizeof err);
	char remote[HC_URL_MAX];
	if (rc) {
		fail(&x, rc, "%s", err);
	} else if (o.remote_name && !o.out_path) {
		hc_url_filename(&u, remote, sizeof remote);
		if (!remote[0])
			rc = fail(&x, HC_WRITE_ERROR, "Remote file name has no length");
		x.out_name = remote;
	}
	bool to_stdout = !x.out_name || strcmp(x.out_name, "-") == 0;
	/* curl: no meter when the body goes to a terminal; otherwise it is on stderr. */
	x.meter = !o.silent && !o.no_meter && !(to_stdout && isatty(STDOUT_FILENO));
	x.bar.width = bar_width();
	/* -C -: resume where the output file ends (nothing to resume on standard output). */
	if (o.resume_current) {
		struct stat sb;
		o.resume_from = !to_stdout && stat(x.out_name, &sb) == 0 ? (int64_t)sb.st_size : 0;
	}
	if (!rc && o.upload)
		rc = open_upload(&x);

	signal(SIGPIPE, SIG_IGN);       /* a closed stdout is a write error (23) */
	double total = 0;
	if (!rc) {
		if (us_cli_finish(&cli) < 0)
			return HC_FAILED_INIT;
		x.st = us_cli_start(&cli);
		if (!x.st)
			return HC_FAILED_INIT;
		long retries = o.retry;
		uint64_t retry_start = now_ns();
		long sleep_ms = o.retry_delay > 0 ? (long)(o.retry_delay * 1000) : RETRY_SLEEP_DEFAULT_MS;
		for (;;) {
			reset_attempt(&x);
			rc = transfer(&x);
			total = elapsed_s(&x);
			meter_end(&x);
			const char *why = retries > 0 ? retry_reason(&x, rc) : "";
			if (!*why || (o.retry_max_time > 0 &&
				      (double)(now_ns() - retry_start) / 1e9 >= o.retry_max_time))
				break;
			long wait = sleep_ms;
			if (strcmp(why, ": HTTP error") == 0 && x.retry_after > 0) {
				wait = x.retry_after > 86400 ? 86400000 : (long)x.retry_after * 1000;
				if (o.retry_max_time > 0 &&
				    (double)(now_ns() - retry_start) / 1e9 + (double)x.retry_after >
					    o.retry_max_time) {
					if (!o.silent)
						uscurl_warn("The Retry-After: time would make this command "
							    "line exceed the maximum allowed time for retries.");
					break;
				}
			}
			if (rc && show_errors)
				fprintf(stderr, "uscurl: (%d) %s\n", rc, x.errmsg);
			if (!o.silent)
				uscurl_warn("Problem %s. Will retry in %ld seconds. %ld retries left.", why,
					    wait / 1000, retries);
			retries--;
			if (o.retry_delay <= 0) {
				sleep_ms *= 2;
				if (sleep_ms > RETRY_SLEEP_MAX_MS)
					sleep_ms = RETRY_SLEEP_MAX_MS;
			}
			if (x.out && x.out_is_file && x.out_bytes) {
				/* Start the file over from where this attempt began. */
				if (!o.silent)
					fprintf(stderr, "Throwing away %llu bytes\n",
						(unsigned long long)x.out_bytes);
				fflush(x.out);
				if (ftruncate(fileno(x.out), (off_t)x.out_init) != 0 ||
				    fseek(x.out, 0, SEEK_END) != 0) {
					rc = fail(&x, HC_WRITE_ERROR, "Failed to truncate file");
					break;
				}
			}
			struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	meter_end(&x);
	if (x.out) {
		if (fflush(x.out) != 0 || ferror(x.out)) {
			if (!rc)
				rc = fail(&x, HC_WRITE_ERROR, "Failure writing output to destination: %s",
					  strerror(errno));
		}
		if (x.out_is_file && fclose(x.out) != 0 && !rc)
			rc = fail(&x, HC_WRITE_ERROR, "Failure writing output to destination: %s",
				  strerror(errno));
	}
	if (x.hdr && x.hdr_is_file)
		fclose(x.hdr);
	if (x.up && x.up != stdin)
		fclose(x.up);
	if (rc && show_errors)
		fprintf(stderr, "uscurl: (%d) %s\n", rc, x.errmsg);
	if (o.writeout)
		print_writeout(&x, rc, total);
	if (x.st) {
		conn_close(&x);
		/* A resolver thread still inside the stack: let the process end take both. */
		if (!x.resolver_abandoned)
			us_stack_free(x.st);
	}
	free(x.rbuf);
	free(x.last_head);
	uscurl_opts_free(&o);
	return rc;
}
