/*
 * uscurl — an HTTP/1.1 client in the manner of curl, over ustack.
 *
 * `uscurl [options] URL` brings up its own stack (-C or the quick flags),
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
 * progress formats); this file does options, sockets, timing and files.
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
#include <sys/time.h>
#include <unistd.h>

#include "tools/common/cli.h"
#include "tools/common/http_client.h"

#define USCURL_VERSION "0.1"
#define MAX_HEADERS 64
#define MAX_RESOLVE 16
#define RECV_CHUNK (256 * 1024)
#define DEFAULT_CONNECT_TIMEOUT_S 300.0   /* curl's default */
#define PROGRESS_INTERVAL_NS 500000000ull /* the meter at most twice a second */

enum {
	OPT_MAX_REDIRS = CLI_OPT__TOOL_BASE,
	OPT_DATA_BINARY,
	OPT_DATA_RAW,
	OPT_CONNECT_TIMEOUT,
	OPT_RESOLVE,
	OPT_VERSION,
};

struct resolve_entry {
	char host[HC_HOST_MAX];
	int port;                       /* -1: any ("*") */
	struct in_addr addr;
};

struct opts {
	const char *url;
	const char *out_path;           /* -o; NULL: standard output */
	bool remote_name;               /* -O */
	bool silent, show_error, fail, head, include, follow;
	int verbose;
	long max_redirs;                /* -1: unlimited */
	const char *method;             /* -X */
	const char *user_agent;
	const char *user;               /* -u USER:PASS */
	char *data;                     /* -d / --data-binary, joined by '&' */
	size_t data_len;
	bool has_data;
	double max_time, connect_timeout;   /* seconds, 0: none / default */
	char *writeout;
	const char *headers[MAX_HEADERS];
	int nheaders;
	struct resolve_entry resolves[MAX_RESOLVE];
	int nresolves;
};

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

	/* The progress meter. */
	bool meter;                     /* -o/-O to a file, not -s */
	bool meter_started;
	bool meter_midline;             /* a status line without its newline is on stderr */
	uint64_t meter_last_ns, meter_last_bytes;
	double meter_cur_bps;
	uint64_t expected;              /* Content-Length of the body being saved, 0 unknown */

	/* What -w reports. */
	int http_code;
	int num_redirects;
	uint64_t size_download, size_header, size_request, size_upload;
	double t_namelookup, t_connect, t_starttransfer, t_redirect;
	char url_effective[HC_URL_MAX];
	char redirect_url[HC_URL_MAX];
	char content_type[256];
	char remote_ip[INET_ADDRSTRLEN], local_ip[INET_ADDRSTRLEN];
	int remote_port, local_port;
	char method[32];
	char errmsg[HC_URL_MAX + 256];
	char req[HC_REQUEST_MAX];       /* the request head being sent */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uscurl [options] URL\n"
		"  -o, --output FILE        write the body to FILE instead of standard output\n"
		"  -O, --remote-name        write it to a file named like the URL's last path segment\n"
		"  -s, --silent             no progress meter, no error messages\n"
		"  -S, --show-error         with -s, still print error messages\n"
		"  -v, --verbose            '*' info, '> ' request and '< ' response lines on stderr\n"
		"                           (-vv also traces every frame of the stack)\n"
		"  -I, --head               HEAD request; print the response headers\n"
		"  -i, --include            print the response headers before the body\n"
		"  -L, --location           follow redirects\n"
		"      --max-redirs N       at most N redirects with -L (default 50, -1 unlimited)\n"
		"  -H, --header 'N: v'      add a request header, replace a default one ('N:' removes it,\n"
		"                           'N;' sends it empty); repeatable\n"
		"  -X, --request METHOD     the request method\n"
		"  -d, --data DATA          POST DATA (@FILE: from FILE without CR/LF, @-: stdin),\n"
		"                           as application/x-www-form-urlencoded; repeats join with '&'\n"
		"      --data-binary DATA   the same, @FILE read byte for byte\n"
		"      --data-raw DATA      the same, no @ interpretation\n"
		"  -A, --user-agent NAME    the User-Agent header\n"
		"  -u, --user USER:PASS     HTTP basic authentication\n"
		"  -f, --fail               exit 22 without output on HTTP status >= 400\n"
		"  -m, --max-time SECS      give up the whole operation after SECS\n"
		"      --connect-timeout SECS  give up resolving and connecting after SECS (default 300)\n"
		"  -w, --write-out FORMAT   print FORMAT after the transfer: %%{http_code},\n"
		"                           %%{size_download}, %%{time_total}, %%{time_connect}, ...\n"
		"                           (@FILE: read it from FILE)\n"
		"      --resolve HOST:PORT:ADDR  use ADDR for HOST and PORT (PORT may be *)\n"
		"  -V, --version            print the version\n"
		CLI_USAGE_STACK_CONFIG_LONG CLI_USAGE_QUICK
		"  -h, --help               this help\n");
}

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

/* ---- Options ---------------------------------------------------------- */

static int parse_secs(const char *opt, const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 31536000)) {
		fprintf(stderr, "uscurl: option %s: expected a number of seconds, got '%s'\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Read a whole file ("-": standard input) into a new buffer. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	for (;;) {
		if (!b)
			break;
		if (n == cap) {
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	bool bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (!b || bad) {
		free(b);
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

/*
 * -d / --data-binary / --data-raw: '@FILE' reads FILE ('-' is standard
 * input); -d drops CR and LF from it, as curl does. Repeats are joined
 * with '&'.
 */
static int add_data(struct opts *o, const char *arg, int kind)
{
	char *piece;
	size_t plen;
	if (kind != OPT_DATA_RAW && arg[0] == '@') {
		piece = slurp(arg + 1, &plen);
		if (!piece) {
			fprintf(stderr, "uscurl: (26) Failed to open/read local data from file/application: "
				"%s: %s\n", arg + 1, strerror(errno ? errno : EIO));
			return -1;
		}
		if (kind == 'd') {
			size_t w = 0;
			for (size_t r = 0; r < plen; r++)
				if (piece[r] != '\r' && piece[r] != '\n')
					piece[w++] = piece[r];
			plen = w;
		}
	} else {
		plen = strlen(arg);
		piece = malloc(plen + 1);
		if (!piece)
			return -1;
		memcpy(piece, arg, plen + 1);
	}
	size_t need = o->data_len + (o->has_data ? 1 : 0) + plen + 1;
	char *nd = realloc(o->data, need);
	if (!nd) {
		free(piece);
		return -1;
	}
	o->data = nd;
	if (o->has_data)
		o->data[o->data_len++] = '&';
	memcpy(o->data + o->data_len, piece, plen);
	o->data_len += plen;
	o->data[o->data_len] = '\0';
	o->has_data = true;
	free(piece);
	return 0;
}

/* --resolve HOST:PORT:ADDR[,ADDR...] (the first address is used). */
static int add_resolve(struct opts *o, const char *arg)
{
	if (o->nresolves == MAX_RESOLVE) {
		fprintf(stderr, "uscurl: --resolve: at most %d entries\n", MAX_RESOLVE);
		return -1;
	}
	struct resolve_entry *e = &o->resolves[o->nresolves];
	const char *c1 = strchr(arg, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (arg[0] == '+' || arg[0] == '-')
		arg++;
	if (!c1 || !c2 || c1 == arg || (size_t)(c1 - arg) >= sizeof e->host)
		goto bad;
	memcpy(e->host, arg, (size_t)(c1 - arg));
	e->host[c1 - arg] = '\0';
	if (c2 - c1 == 2 && c1[1] == '*') {
		e->port = -1;
	} else {
		char *end;
		long p = strtol(c1 + 1, &end, 10);
		if (end != c2 || p < 1 || p > 65535)
			goto bad;
		e->port = (int)p;
	}
	char a[INET_ADDRSTRLEN];
	size_t al = strcspn(c2 + 1, ",");
	if (al == 0 || al >= sizeof a)
		goto bad;
	memcpy(a, c2 + 1, al);
	a[al] = '\0';
	if (inet_pton(AF_INET, a, &e->addr) != 1)
		goto bad;
	o->nresolves++;
	return 0;
bad:
	fprintf(stderr, "uscurl: --resolve: expected HOST:PORT:A.B.C.D, got '%s'\n", arg);
	return -1;
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
	snprintf(x->remote_ip, sizeof x->remote_ip, "%s", as);
	x->remote_port = u->port;
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
		us_close(x->st, fd);
		if (e == EINPROGRESS)   /* SO_SNDTIMEO lapsed */
			return timed_out(x, by_max, "Connection");
		return fail(x, HC_COULDNT_CONNECT, "Failed to connect to %s port %u after %lld ms: %s",
			    u->host, u->port, (long long)((now_ns() - start) / 1000000ull), strerror(e));
	}
	x->t_connect = elapsed_s(x);
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

static void meter_update(struct run *x, bool final)
{
	if (!x->meter)
		return;
	uint64_t now = now_ns();
	if (!x->meter_started) {
		fputs(hc_progress_heading, stderr);
		x->meter_started = true;
		x->meter_last_ns = x->t0;
		x->meter_last_bytes = 0;
	} else if (!final && now - x->meter_last_ns < PROGRESS_INTERVAL_NS) {
		return;
	}
	if (now > x->meter_last_ns) {
		double dt = (double)(now - x->meter_last_ns) / 1e9;
		if (dt >= 0.2 || x->meter_cur_bps == 0)
			x->meter_cur_bps = (double)(x->size_download - x->meter_last_bytes) / dt;
	}
	x->meter_last_ns = now;
	x->meter_last_bytes = x->size_download;
	char line[160];
	hc_progress_line(line, sizeof line, x->expected, x->size_download, x->size_upload,
			 elapsed_s(x), x->meter_cur_bps);
	fprintf(stderr, "\r%s%s", line, final ? "\n" : "");
	x->meter_midline = !final;
	fflush(stderr);
}

static void meter_end(struct run *x)
{
	if (x->meter && x->meter_started) {
		meter_update(x, true);
		x->meter = false;
	}
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
	x->out = fopen(x->out_name, "wb");
	if (!x->out) {
		x->out_failed = true;
		return fail(x, HC_WRITE_ERROR, "Failure writing output to destination: "
			    "cannot open '%s': %s", x->out_name, strerror(errno));
	}
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
	return HC_OK;
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
		ssize_t n = us_recv(x->st, x->c.fd, x->rbuf + x->rlen, x->rcap - x->rlen, MSG_DONTWAIT);
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

/* ---- Requests --------------------------------------------------------- */

/*
 * The request head for u (hc_request_head has the rules for defaults
 * and -H). Returns its length in buf, or -1 if it is larger than buf.
 */
static long build_request(const struct run *x, char *buf, size_t buflen, const struct hc_url *u,
			  const char *method, bool with_body, bool other_host)
{
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
		.headers = o->headers,
		.nheaders = o->nheaders,
		.with_body = with_body,
		.body_len = o->data_len,
		.other_host = other_host,
	};
	return hc_request_head(&rq, buf, buflen);
}

static void print_line_prefixed(void *arg, const char *line, size_t n)
{
	fprintf(stderr, "%s%.*s\n", (const char *)arg, (int)n, line);
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
	return b->rc;
}

static void body_trailer(void *arg, const char *line, size_t n)
{
	struct body_ctx *b = arg;
	if (b->x->o->verbose) {
		meter_break(b->x);
		fprintf(stderr, "< %.*s\n", (int)n, line);
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
			if (x->o->verbose) {
				meter_break(x);
				hc_head_lines(x->rbuf, hl, print_line_prefixed, "< ");
				fputs("<\n", stderr);
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
	snprintf(method, sizeof method, "%s",
		 o->method ? o->method : o->head ? "HEAD" : o->has_data ? "POST" : "GET");
	bool with_body = o->has_data;

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

		long reqlen = build_request(x, x->req, sizeof x->req, &u, method, with_body,
					    strcasecmp(u.host, u0.host) != 0);
		if (reqlen < 0)
			return fail(x, HC_FAILED_INIT, "the request headers are larger than %zu bytes",
				    sizeof x->req);
		if (o->verbose) {
			meter_break(x);
			hc_head_lines(x->req, (size_t)reqlen, print_line_prefixed, "> ");
			fputs(">\n", stderr);
		}
		struct hc_response r;
		size_t hl = 0;
		bool nothing = false;
		rc = send_all(x, x->req, (size_t)reqlen);
		if (!rc && with_body) {
			rc = send_all(x, o->data, o->data_len);
			if (!rc) {
				x->size_upload += o->data_len;
				info(x, "upload completely sent off: %zu bytes", o->data_len);
			}
		}
		x->size_request += (size_t)reqlen;
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
			if (r.keep_alive && r.framing != HC_BODY_CLOSE) {
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

		if (o->fail && r.status >= 400) {
			conn_close(x);
			return fail(x, HC_HTTP_RETURNED_ERROR, "The requested URL returned error: %d",
				    r.status);
		}
		if (o->include || o->head) {
			if ((rc = out_write(x, x->rbuf, hl)))
				return rc;
		}
		consume(x, hl);
		if (r.framing == HC_BODY_LENGTH)
			x->expected = r.content_length;
		if (!(o->include || o->head) && (rc = open_output(x)))
			return rc;
		meter_update(x, false);
		rc = read_body(x, &r, SINK_OUTPUT);
		meter_end(x);
		if (rc)
			return rc;
		if (x->c.reusable)
			info(x, "Connection #%d to host %s left intact", x->c.id, u.host);
		else
			info(x, "Closing connection #%d", x->c.id);
		return HC_OK;
	}
}

/* ---- main --------------------------------------------------------------- */

static void print_writeout(struct run *x, int rc, double total)
{
	struct hc_writeout_vars v = {
		.http_code = x->http_code,
		.num_redirects = x->num_redirects,
		.exitcode = rc,
		.size_download = x->size_download,
		.size_header = x->size_header,
		.size_request = x->size_request,
		.size_upload = x->size_upload,
		.time_namelookup = x->t_namelookup,
		.time_connect = x->t_connect,
		.time_starttransfer = x->t_starttransfer,
		.time_redirect = x->t_redirect,
		.time_total = total,
		.speed_download = total > 0 ? (double)x->size_download / total : 0,
		.speed_upload = total > 0 ? (double)x->size_upload / total : 0,
		.url_effective = x->url_effective,
		.redirect_url = x->redirect_url,
		.content_type = x->content_type,
		.remote_ip = x->remote_ip,
		.remote_port = x->remote_port,
		.local_ip = x->local_ip,
		.local_port = x->local_port,
		.method = x->method,
		.errormsg = rc ? x->errmsg : "",
	};
	hc_writeout(stdout, x->o->writeout, &v);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct us_cli cli;
	us_cli_init(&cli, "uscurl");
	cli.no_short_config = true;     /* -C is curl's --continue-at */
	static const struct option longopts[] = {
		CLI_LONG_OPTIONS,
		{ "output", required_argument, NULL, 'o' },
		{ "remote-name", no_argument, NULL, 'O' },
		{ "silent", no_argument, NULL, 's' },
		{ "show-error", no_argument, NULL, 'S' },
		{ "head", no_argument, NULL, 'I' },
		{ "include", no_argument, NULL, 'i' },
		{ "location", no_argument, NULL, 'L' },
		{ "max-redirs", required_argument, NULL, OPT_MAX_REDIRS },
		{ "header", required_argument, NULL, 'H' },
		{ "request", required_argument, NULL, 'X' },
		{ "data", required_argument, NULL, 'd' },
		{ "data-ascii", required_argument, NULL, 'd' },
		{ "data-binary", required_argument, NULL, OPT_DATA_BINARY },
		{ "data-raw", required_argument, NULL, OPT_DATA_RAW },
		{ "user-agent", required_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'u' },
		{ "fail", no_argument, NULL, 'f' },
		{ "max-time", required_argument, NULL, 'm' },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "write-out", required_argument, NULL, 'w' },
		{ "resolve", required_argument, NULL, OPT_RESOLVE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static struct opts o = { .max_redirs = 50 };
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS_NO_C "o:OsSIiLH:X:d:A:u:fm:w:Vh", longopts,
				  NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return HC_FAILED_INIT;
		if (r > 0) {
			if (opt == 'v')
				o.verbose++;
			continue;
		}
		switch (opt) {
		case 'o': o.out_path = optarg; break;
		case 'O': o.remote_name = true; break;
		case 's': o.silent = true; break;
		case 'S': o.show_error = true; break;
		case 'I': o.head = true; break;
		case 'i': o.include = true; break;
		case 'L': o.follow = true; break;
		case 'f': o.fail = true; break;
		case 'X': o.method = optarg; break;
		case 'A': o.user_agent = optarg; break;
		case 'u': o.user = optarg; break;
		case OPT_MAX_REDIRS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < -1) {
				fprintf(stderr, "uscurl: option --max-redirs: expected -1 or more, got '%s'\n",
					optarg);
				return HC_FAILED_INIT;
			}
			o.max_redirs = v;
			break;
		}
		case 'H':
			if (o.nheaders == MAX_HEADERS) {
				fprintf(stderr, "uscurl: -H: at most %d headers\n", MAX_HEADERS);
				return HC_FAILED_INIT;
			}
			if (!hc_header_arg_ok(optarg)) {
				fprintf(stderr, "uscurl: -H: expected 'Name: value', 'Name:' or 'Name;', "
					"got '%s'\n", optarg);
				return HC_FAILED_INIT;
			}
			o.headers[o.nheaders++] = optarg;
			break;
		case 'd':
		case OPT_DATA_BINARY:
		case OPT_DATA_RAW:
			if (add_data(&o, optarg, opt) < 0)
				return opt == OPT_DATA_RAW ? HC_FAILED_INIT : HC_READ_ERROR;
			break;
		case 'm':
			if (parse_secs("--max-time", optarg, &o.max_time) < 0)
				return HC_FAILED_INIT;
			break;
		case OPT_CONNECT_TIMEOUT:
			if (parse_secs("--connect-timeout", optarg, &o.connect_timeout) < 0)
				return HC_FAILED_INIT;
			break;
		case 'w':
			free(o.writeout);
			if (optarg[0] == '@') {
				size_t n;
				o.writeout = slurp(optarg + 1, &n);
				if (!o.writeout) {
					fprintf(stderr, "uscurl: -w: cannot read '%s': %s\n", optarg + 1,
						strerror(errno ? errno : EIO));
					return HC_FAILED_INIT;
				}
			} else {
				o.writeout = strdup(optarg);
			}
			break;
		case OPT_RESOLVE:
			if (add_resolve(&o, optarg) < 0)
				return HC_FAILED_INIT;
			break;
		case 'V':
			printf("uscurl %s (ustack) \nProtocols: http\nFeatures: IPv4 only, no TLS\n",
			       USCURL_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "uscurl: try 'uscurl --help' for more information\n");
			return HC_FAILED_INIT;
		}
	}
	/* -v is curl's verbose; -vv adds the stack's per-frame trace. */
	cli.verbose = cli.verbose > 1;
	if (argc - optind != 1) {
		fprintf(stderr, argc == optind ? "uscurl: no URL specified\n"
					       : "uscurl: exactly one URL, please\n");
		fprintf(stderr, "uscurl: try 'uscurl --help' for more information\n");
		return HC_FAILED_INIT;
	}
	o.url = argv[optind];
	if (o.head && o.has_data) {
		fprintf(stderr, "uscurl: You can only select one HTTP request method! "
			"You asked for both POST (-d, --data) and HEAD (-I, --head).\n");
		return HC_FAILED_INIT;
	}
	bool show_errors = !o.silent || o.show_error;

	static struct run x;
	x.o = &o;
	x.c.fd = -1;
	x.t0 = now_ns();
	if (o.max_time > 0)
		x.deadline = x.t0 + (uint64_t)(o.max_time * 1e9);
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
	x.meter = !o.silent && x.out_name && strcmp(x.out_name, "-") != 0;

	signal(SIGPIPE, SIG_IGN);       /* a closed stdout is a write error (23) */
	if (!rc) {
		if (us_cli_finish(&cli) < 0)
			return HC_FAILED_INIT;
		x.t0 = now_ns();
		if (o.max_time > 0)
			x.deadline = x.t0 + (uint64_t)(o.max_time * 1e9);
		x.st = us_cli_start(&cli);
		if (!x.st)
			return HC_FAILED_INIT;
		rc = transfer(&x);
	}
	double total = elapsed_s(&x);
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
	free(o.data);
	free(o.writeout);
	return rc;
}
