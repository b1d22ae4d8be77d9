/*
 * http_service.c — ustackd's static HTTP/1.1 file server (http_service.h;
 * doc/HTTP.md describes the design and every behaviour).
 *
 * Three layers, in this order in the file:
 *   1. the request-head parser and the path resolver: functions of their
 *      arguments only (no socket, no clock, no allocation);
 *   2. the connection state machine, which takes the time as an argument:
 *      CS_HEAD (read a request head) -> CS_SEND (response head, then the
 *      file in pread() chunks) -> CS_HEAD again (keep-alive, pipelining) or
 *      CS_LINGER (FIN sent; discard input until the client's FIN) -> closed;
 *   3. the workers: each owns its connections outright (no locks in this
 *      file: the only fields shared between threads that change are the
 *      atomic stop flag and the atomic count of connections served, for
 *      max_connections), polls the shared listening socket with them, and
 *      is the only place that reads the clocks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "tools/common/http_client.h"
#include "tools/common/http_service.h"

#define NS_PER_S     1000000000ull
#define POLL_MS      100            /* how often a worker looks at the stop flag */
#define ACCEPT_BURST 32             /* accepts per wake-up, so workers share new clients */

/* ---------------------------------------------------------------------- */
/* 1. Parsing (RFC 9112) and path resolution                              */
/* ---------------------------------------------------------------------- */

enum http_method { M_GET, M_HEAD, M_OTHER };

/* A parsed request head. Pointers point into the caller's buffer. */
struct http_req {
	enum http_method method;
	const char *method_s;           /* as received, for the log */
	size_t method_len;
	const char *target;             /* request-target, as received */
	size_t target_len;
	int minor;                      /* HTTP/1.minor: 0 or 1 */
	int nhost;                      /* Host field lines seen */
	bool conn_close, conn_keep_alive;
	bool has_cl, has_te;
	uint64_t content_length;
	/* Conditional and range fields (RFC 9110 13.1, 14.2), values as received. */
	const char *range, *if_range, *ims;
	size_t range_len, if_range_len, ims_len;
	int nrange, nims;               /* field lines seen (a repeated one is ignored) */
	bool has_inm;                   /* If-None-Match: then If-Modified-Since is ignored */
};

/* RFC 9110 5.6.2: tchar. */
static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool is_digit(unsigned char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Case-insensitive equality of s[0..n) and the literal lit. */
static bool ieq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/*
 * Length of the request head at the start of b[0..len) through the empty
 * line that ends it, or 0 while it is incomplete. A line ends with CRLF or,
 * tolerated as RFC 9112 2.2 allows, a bare LF. *scan is where the search
 * resumes (0 for a new head); it only moves forward.
 */
static size_t head_length(const char *b, size_t len, size_t *scan)
{
	for (size_t i = *scan; i < len; i++) {
		if (b[i] != '\n')
			continue;
		if (i + 1 == len || (b[i + 1] == '\r' && i + 2 == len)) {
			*scan = i;              /* cannot tell yet whether an empty line follows */
			return 0;
		}
		if (b[i + 1] == '\n')
			return i + 2;
		if (b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	*scan = len;
	return 0;
}

/* Take the next line from *p (< end): *line, *n without its CR LF or LF. */
static bool next_line(const char **p, const char *end, const char **line, size_t *n)
{
	const char *lf = memchr(*p, '\n', (size_t)(end - *p));
	if (!lf)
		return false;
	size_t len = (size_t)(lf - *p);
	if (len && (*p)[len - 1] == '\r')
		len--;
	*line = *p;
	*n = len;
	*p = lf + 1;
	return true;
}

/* One header field of a request (name and value already checked). 0 or 400. */
static int take_field(struct http_req *r, const char *name, size_t nl, const char *v, size_t vn)
{
	if (ieq(name, nl, "host")) {
		r->nhost++;
	} else if (ieq(name, nl, "content-length")) {
		/* RFC 9112 6.3 (5): anything but digits is unrecoverable; we also refuse
		 * a second Content-Length that disagrees with the first. */
		uint64_t x = 0;
		if (vn == 0 || vn > 18)
			return 400;
		for (size_t i = 0; i < vn; i++) {
			if (!is_digit((unsigned char)v[i]))
				return 400;
			x = x * 10 + (uint64_t)(v[i] - '0');
		}
		if (r->has_cl && r->content_length != x)
			return 400;
		r->has_cl = true;
		r->content_length = x;
	} else if (ieq(name, nl, "transfer-encoding")) {
		r->has_te = true;
	} else if (ieq(name, nl, "range")) {
		r->nrange++;
		r->range = v;
		r->range_len = vn;
	} else if (ieq(name, nl, "if-range")) {
		r->if_range = v;
		r->if_range_len = vn;
	} else if (ieq(name, nl, "if-modified-since")) {
		r->nims++;
		r->ims = v;
		r->ims_len = vn;
	} else if (ieq(name, nl, "if-none-match")) {
		r->has_inm = true;
	} else if (ieq(name, nl, "connection")) {
		/* RFC 9110 7.6.1: a comma-separated list of connection options. */
		size_t i = 0;
		while (i < vn) {
			while (i < vn && (v[i] == ',' || v[i] == ' ' || v[i] == '\t'))
				i++;
			size_t s = i;
			while (i < vn && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
				i++;
			if (ieq(v + s, i - s, "close"))
				r->conn_close = true;
			else if (ieq(v + s, i - s, "keep-alive"))
				r->conn_keep_alive = true;
		}
	}
	return 0;
}

/*
 * Parse a complete request head b[0..len) (as found by head_length, leading
 * empty lines already removed). Returns 0, or the error status: 400
 * (malformed), 414 (request-target longer than HTTP_URI_MAX), 505 (an HTTP
 * version other than 1.0 and 1.1).
 */
static int parse_head(const char *b, size_t len, struct http_req *r)
{
	memset(r, 0, sizeof *r);
	r->method = M_OTHER;
	const char *p = b, *end = b + len, *line;
	size_t n, i = 0;
	if (!next_line(&p, end, &line, &n))
		return 400;
	/* RFC 9112 3: request-line = method SP request-target SP HTTP-version,
	 * single spaces. The method is case-sensitive (RFC 9110 9.1). */
	while (i < n && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= n || line[i] != ' ')
		return 400;
	r->method_s = line;
	r->method_len = i;
	if (i == 3 && memcmp(line, "GET", 3) == 0)
		r->method = M_GET;
	else if (i == 4 && memcmp(line, "HEAD", 4) == 0)
		r->method = M_HEAD;
	size_t t = ++i;
	while (i < n && (unsigned char)line[i] > ' ' && line[i] != 0x7f)
		i++;
	r->target = line + t;
	r->target_len = i - t;
	if (r->target_len > HTTP_URI_MAX)
		return 414;
	if (r->target_len == 0 || i >= n || line[i] != ' ')
		return 400;
	const char *v = line + i + 1;
	size_t vn = n - i - 1;
	/* RFC 9112 2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive. */
	if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || !is_digit((unsigned char)v[5]) || v[6] != '.' ||
	    !is_digit((unsigned char)v[7]))
		return 400;
	if (v[5] != '1')
		return 505;
	/* RFC 9110 2.5: a higher minor version of a major version we implement
	 * is processed as the highest minor version we conform to. */
	r->minor = v[7] == '0' ? 0 : 1;

	/* RFC 9112 5: field-line = field-name ":" OWS field-value OWS. */
	while (next_line(&p, end, &line, &n) && n > 0) {
		if (line[0] == ' ' || line[0] == '\t')
			return 400;             /* obs-fold: RFC 9112 5.2 lets us refuse it */
		i = 0;
		while (i < n && is_tchar((unsigned char)line[i]))
			i++;
		if (i == 0 || i >= n || line[i] != ':')
			return 400;             /* includes space before the colon: RFC 9112 5.1 */
		size_t a = i + 1, z = n;
		while (a < z && (line[a] == ' ' || line[a] == '\t'))
			a++;
		while (z > a && (line[z - 1] == ' ' || line[z - 1] == '\t'))
			z--;
		for (size_t k = a; k < z; k++) {
			unsigned char ch = (unsigned char)line[k];
			if ((ch < ' ' && ch != '\t') || ch == 0x7f)
				return 400;     /* RFC 9110 5.5: no CR, LF, NUL or other controls */
		}
		int st = take_field(r, line, i, line + a, z - a);
		if (st)
			return st;
	}
	return 0;
}

/*
 * The status for a head that outgrew HTTP_HEAD_MAX: 414 if its request line
 * already holds a request-target longer than HTTP_URI_MAX, else 400.
 */
static int overflow_status(const char *b, size_t len)
{
	size_t i = 0;
	while (i < len && is_tchar((unsigned char)b[i]))
		i++;
	if (i == 0 || i >= len || b[i] != ' ')
		return 400;
	size_t t = ++i;
	while (i < len && (unsigned char)b[i] > ' ' && b[i] != 0x7f)
		i++;
	return i - t > HTTP_URI_MAX ? 414 : 400;
}

/*
 * RFC 9112 3.2: the absolute path of an origin-form ("/a/b?q") or
 * absolute-form ("http://host/a/b?q") request-target, without the query.
 * The authority of the absolute form is ignored (there is one site). The
 * asterisk and authority forms belong to OPTIONS and CONNECT: 400 here.
 */
static int target_path(const char *t, size_t n, const char **path, size_t *pn)
{
	if (memchr(t, '#', n))
		return 400;                     /* a fragment is never sent (RFC 9110 7.1) */
	if (n >= 7 && strncasecmp(t, "http://", 7) == 0) {
		size_t i = 7;
		while (i < n && t[i] != '/' && t[i] != '?')
			i++;
		if (i == 7)
			return 400;
		t += i;
		n -= i;
		if (n == 0 || t[0] == '?') {
			*path = "/";
			*pn = 1;
			return 0;
		}
	} else if (n == 0 || t[0] != '/') {
		return 400;
	}
	size_t q = 0;
	while (q < n && t[q] != '?')
		q++;
	*path = t;
	*pn = q;
	return 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 3986 2.1: decode s[0..n) into out (room for n bytes). -1: a bad %XX or an encoded NUL. */
static ssize_t pct_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= n)
			return -1;
		int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return (ssize_t)o;
}

/* What a Range field asks of a representation of a given size. */
enum range_kind {
	RANGE_NONE,             /* no usable Range: the whole file, 200 */
	RANGE_ONE,              /* one satisfiable range: 206 */
	RANGE_UNSAT,            /* no byte of the file is asked for: 416 */
};

/* Digits s[*i..) as a byte position; false if none or too many. */
static bool take_pos(const char *s, size_t n, size_t *i, uint64_t *out)
{
	uint64_t x = 0;
	size_t d = 0;
	while (*i < n && is_digit((unsigned char)s[*i])) {
		if (++d > 18)
			return false;
		x = x * 10 + (uint64_t)(s[(*i)++] - '0');
	}
	*out = x;
	return d > 0;
}

/*
 * RFC 9110 14.1.2: ranges-specifier = "bytes" "=" range-spec, where
 * range-spec is first-pos "-" [ last-pos ] or "-" suffix-length. The unit
 * is case-insensitive; whitespace around the specs is tolerated (OWS in the
 * list rule). An invalid specifier, another unit, or more than one range
 * (we send no multipart/byteranges) is ignored, as RFC 9110 14.2 allows: the
 * whole file is sent. A valid single range is clipped to the file
 * (*first..*last inclusive) or, if it selects no byte, unsatisfiable.
 */
static enum range_kind parse_range(const char *v, size_t n, uint64_t size, uint64_t *first,
				   uint64_t *last)
{
	if (n < 6 || strncasecmp(v, "bytes=", 6) != 0)
		return RANGE_NONE;
	size_t i = 6;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	uint64_t a = 0, b = 0;
	bool suffix = i < n && v[i] == '-', has_b = false;
	if (suffix) {
		i++;
		if (!take_pos(v, n, &i, &b))
			return RANGE_NONE;
	} else {
		if (!take_pos(v, n, &i, &a) || i >= n || v[i] != '-')
			return RANGE_NONE;
		i++;
		has_b = take_pos(v, n, &i, &b);
		if (has_b && b < a)
			return RANGE_NONE;      /* RFC 9110 14.1.1: invalid, so ignored */
	}
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	if (i != n)
		return RANGE_NONE;              /* a list, or garbage: ignored */
	if (suffix) {
		if (b == 0 || size == 0)
			return RANGE_UNSAT;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return RANGE_ONE;
	}
	if (a >= size)
		return RANGE_UNSAT;
	*first = a;
	*last = has_b && b < size ? b : size - 1;
	return RANGE_ONE;
}

/* The status for an openat() that failed with e. */
static int errno_status(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return 404;
	case EACCES:
	case EPERM:
	case ELOOP:
		return 403;
	default:
		return 500;
	}
}

static void close_unless(int fd, int keep)
{
	if (fd >= 0 && fd != keep)
		close(fd);
}

/*
 * Resolve the (still percent-encoded) absolute path path[0..pn) below the
 * directory rootfd and open what it names for reading.
 *
 * The path is decoded first, then split at '/' (so an encoded %2F is a
 * separator like any other and can never put a slash into a name); empty
 * and "." segments are skipped; a ".." segment anywhere is refused (400)
 * before the file system is touched. Each segment is then opened with
 * openat(O_PATH | O_NOFOLLOW) relative to the previous one and checked with
 * fstat: a symbolic link, wherever it points, is refused (403); so is
 * anything but a directory or a regular file. A directory named with a
 * trailing slash serves its index.html (403 if it has none); without the
 * slash it is a 301 to the same path plus '/'. A regular file named with a
 * trailing slash is 404, like ENOTDIR. Only the final regular file is
 * opened for reading (O_NOFOLLOW again, and its identity checked against
 * the O_PATH look), so devices and FIFOs below the root are never opened.
 *
 * Returns 200 with *fdp (to close) and *sb set and the last name in leaf,
 * or the status of the refusal: 301, 400, 403, 404 or 500.
 */
static int resolve(int rootfd, const char *path, size_t pn, int *fdp, struct stat *sb, char *leaf)
{
	char dec[HTTP_URI_MAX + 1];
	if (pn > HTTP_URI_MAX)
		return 414;
	ssize_t r = pct_decode(path, pn, dec);
	if (r < 0)
		return 400;
	size_t dn = (size_t)r;
	for (size_t i = 0; i < dn;) {
		while (i < dn && dec[i] == '/')
			i++;
		size_t s = i;
		while (i < dn && dec[i] != '/')
			i++;
		if (i - s == 2 && dec[s] == '.' && dec[s + 1] == '.')
			return 400;
	}
	bool slash = dn > 0 && dec[dn - 1] == '/';

	int dir = rootfd, cur = rootfd;         /* cur: named so far; dir: the directory holding it */
	struct stat st;
	int status = 200;
	if (fstat(rootfd, &st) < 0)
		return 500;
	leaf[0] = '\0';
	for (size_t i = 0; status == 200;) {
		while (i < dn && dec[i] == '/')
			i++;
		if (i == dn)
			break;
		size_t s = i;
		while (i < dn && dec[i] != '/')
			i++;
		if (!S_ISDIR(st.st_mode) || i - s > NAME_MAX) {
			status = 404;
			break;
		}
		if (i - s == 1 && dec[s] == '.')
			continue;
		memcpy(leaf, dec + s, i - s);
		leaf[i - s] = '\0';
		int next = openat(cur, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			status = errno_status(errno);
			break;
		}
		if (dir != cur)
			close_unless(dir, rootfd);
		dir = cur;
		cur = next;
		if (fstat(cur, &st) < 0)
			status = 500;
		else if (S_ISLNK(st.st_mode))
			status = 403;
	}
	bool via_index = false;
	if (status == 200 && S_ISDIR(st.st_mode)) {
		if (!slash) {
			status = 301;
		} else {
			int idx = openat(cur, "index.html", O_PATH | O_NOFOLLOW | O_CLOEXEC);
			if (idx < 0) {
				status = errno == ENOENT ? 403 : errno_status(errno);
			} else {
				if (dir != cur)
					close_unless(dir, rootfd);
				dir = cur;
				cur = idx;
				snprintf(leaf, NAME_MAX + 1, "index.html");
				via_index = true;
				if (fstat(cur, &st) < 0)
					status = 500;
			}
		}
	}
	if (status == 200 && !S_ISREG(st.st_mode))
		status = 403;                   /* links, FIFOs, sockets, devices */
	if (status == 200 && slash && !via_index)
		status = 404;
	if (status == 200) {
		int fd = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			status = errno_status(errno);
		} else if (fstat(fd, sb) < 0 || !S_ISREG(sb->st_mode) || sb->st_dev != st.st_dev ||
			   sb->st_ino != st.st_ino) {
			close(fd);
			status = 404;           /* replaced between the look and the open */
		} else {
			*fdp = fd;
		}
	}
	if (dir != cur)
		close_unless(dir, rootfd);
	close_unless(cur, rootfd);
	return status;
}

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "html", "text/html" },        { "htm", "text/html" },
		{ "txt", "text/plain" },        { "css", "text/css" },
		{ "js", "text/javascript" },    { "json", "application/json" },
		{ "png", "image/png" },         { "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },       { "gif", "image/gif" },
		{ "svg", "image/svg+xml" },     { "pdf", "application/pdf" },
	};
	const char *dot = strrchr(name, '.');
	if (dot && dot != name)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* RFC 9110 5.6.7: IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (no locale). */
static void http_date(time_t t, char *out, size_t cap)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
		return;
	}
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
		 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---------------------------------------------------------------------- */
/* 2. Connections                                                         */
/* ---------------------------------------------------------------------- */

enum conn_state {
	CS_HEAD,        /* reading a request head (after skipping a request body) */
	CS_SEND,        /* sending out[], refilled from the file */
	CS_LINGER,      /* our FIN is queued: discard input until the client's FIN */
};

/* One connection; allocated at accept, freed at close, owned by one worker. */
struct conn {
	int fd;
	enum conn_state state;
	uint64_t since;                 /* ns: last progress; CS_LINGER: when it began */
	struct sockaddr_in peer;
	size_t in_len;                  /* request bytes in in[] */
	size_t scan;                    /* head_length() resumes here */
	uint64_t discard;               /* request body bytes still to skip */
	size_t out_off, out_len;        /* out[out_off..out_len) is still to send */
	int file;                       /* -1, or the file whose bytes follow out[] */
	uint64_t file_off, file_left;
	bool close_after;               /* close once this response is out */
	bool rejected;                  /* over max_connections: its request gets 503 */
	char in[HTTP_HEAD_MAX];
	char out[HTTP_BODY_BUF];
};

struct worker {
	struct us_http *h;
	pthread_t th;
	bool started;
	struct conn **conns;            /* HTTP_MAX_CONNS + HTTP_REJECT_MAX slots, n used */
	int n;
	int nserved, nrejected;         /* of the n: served, and being answered 503 */
	struct pollfd *p;               /* p[0] the listener, p[1 + i] conns[i] */
};

struct us_http {
	us_stack *st;
	enum us_log_level log_level;    /* US_LOG(h, ...) reads it */
	uint16_t port;
	int lfd;                        /* listening socket, shared by the workers */
	int rootfd;                     /* the served directory */
	int max_conns;                  /* max_connections: served at once, all workers */
	atomic_int nconns;              /* connections served now, all workers */
	_Atomic bool stop;
	struct worker w[HTTP_WORKERS];
};

/* What a response says, apart from the connection it goes on. */
struct reply {
	int status;
	const char *ctype;
	uint64_t length;                /* Content-Length of a 200 or 206 */
	bool has_mtime;
	time_t mtime;
	const char *loc;                /* 301: the path, to which '/' is appended */
	size_t loc_len;
	uint64_t first, last, size;     /* 206: bytes first..last of size; 416: size */
};

/* An appender into a fixed buffer that stops (and remembers) when it is full. */
struct outbuf {
	char *p;
	size_t len, cap;
};

static void outf(struct outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void outf(struct outbuf *o, const char *fmt, ...)
{
	if (o->len + 1 >= o->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

/*
 * Put a response head into c->out (and, for errors other than HEAD's, the
 * short HTML body). RFC 9110 15.5.6: 405 carries Allow. The status line says
 * HTTP/1.1 whatever the request's minor version (RFC 9110 2.5); an HTTP/1.0
 * client that asked for keep-alive is told it is kept. A file (200, 206)
 * says Accept-Ranges: bytes (RFC 9110 14.3); 206 and 416 carry
 * Content-Range (14.4); 304 has no body and no Content-Length or
 * Content-Type (15.4.5); 503 carries Retry-After (10.2.3).
 */
static void put_head(struct conn *c, const struct reply *rp, bool body, int minor, time_t wall)
{
	char date[64], errbody[256] = "";
	struct outbuf o = { c->out, 0, sizeof c->out };
	bool file = rp->status == 200 || rp->status == 206;
	http_date(wall, date, sizeof date);
	uint64_t length = rp->length;
	if (!file && rp->status != 304) {
		int n = snprintf(errbody, sizeof errbody,
				 "<html><head><title>%d %s</title></head>"
				 "<body><h1>%d %s</h1></body></html>\n",
				 rp->status, reason(rp->status), rp->status, reason(rp->status));
		length = n > 0 ? (uint64_t)n : 0;
	}
	outf(&o, "HTTP/1.1 %d %s\r\nServer: ustackd\r\nDate: %s\r\n", rp->status,
	     reason(rp->status), date);
	if (rp->status == 405)
		outf(&o, "Allow: GET, HEAD\r\n");
	if (rp->status == 503)
		outf(&o, "Retry-After: %d\r\n", HTTP_RETRY_AFTER_S);
	if (rp->status != 304)
		outf(&o, "Content-Type: %s\r\nContent-Length: %llu\r\n",
		     file ? rp->ctype : "text/html", (unsigned long long)length);
	if (rp->status == 206)
		outf(&o, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)rp->first,
		     (unsigned long long)rp->last, (unsigned long long)rp->size);
	else if (rp->status == 416)
		outf(&o, "Content-Range: bytes */%llu\r\n", (unsigned long long)rp->size);
	if (file)
		outf(&o, "Accept-Ranges: bytes\r\n");
	if (rp->has_mtime) {
		char d[64];
		http_date(rp->mtime, d, sizeof d);
		outf(&o, "Last-Modified: %s\r\n", d);
	}
	if (rp->loc)
		outf(&o, "Location: %.*s/\r\n", (int)rp->loc_len, rp->loc);
	if (c->close_after)
		outf(&o, "Connection: close\r\n");
	else if (minor == 0)
		outf(&o, "Connection: keep-alive\r\n");
	outf(&o, "\r\n%s", body && !file ? errbody : "");
	c->out_off = 0;
	c->out_len = o.len;
}

/*
 * The preconditions and range of a GET or HEAD of a regular file, in RFC
 * 9110 13.2.2's order (we have no ETags, so steps 1-3 do not apply):
 * If-Modified-Since (ignored with If-None-Match, or when not a valid
 * date) gives 304 when the file is not newer than the date; then, for GET
 * only (14.2), a single Range gives 206 or 416, unless an If-Range does
 * not match the Last-Modified date exactly (13.1.5; an entity-tag never
 * matches). rp has the file's size and mtime; this sets status and, for
 * 206, the slice.
 */
static void preconditions(const struct http_req *r, struct reply *rp)
{
	time_t since;
	if (r->nims == 1 && !r->has_inm && hc_parse_http_date(r->ims, r->ims_len, &since) &&
	    rp->mtime <= since) {
		rp->status = 304;
		return;
	}
	if (r->method != M_GET || r->nrange != 1)
		return;
	if (r->if_range) {
		char d[64];
		http_date(rp->mtime, d, sizeof d);
		if (r->if_range_len != strlen(d) || memcmp(r->if_range, d, r->if_range_len) != 0)
			return;
	}
	rp->size = rp->length;
	switch (parse_range(r->range, r->range_len, rp->size, &rp->first, &rp->last)) {
	case RANGE_NONE:
		return;
	case RANGE_UNSAT:
		rp->status = 416;
		return;
	case RANGE_ONE:
		rp->status = 206;
		rp->length = rp->last - rp->first + 1;
		return;
	}
}

/*
 * Answer the request whose head is c->in[0..hlen) (hlen 0: the head outgrew
 * HTTP_HEAD_MAX): set up the response in c and enter CS_SEND. wall is the
 * time for the Date field.
 */
static void respond(struct us_http *h, struct conn *c, size_t hlen, time_t wall)
{
	struct http_req r;
	struct reply rp = { .status = 0 };
	struct stat sb;
	char leaf[NAME_MAX + 1] = "";
	const char *path = NULL;
	size_t pn = 0;
	int fd = -1;
	bool keep = false;

	rp.status = hlen ? parse_head(c->in, hlen, &r) : overflow_status(c->in, c->in_len);
	bool parsed = rp.status == 0;
	c->discard = 0;
	if (parsed) {
		/* RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive". */
		keep = r.minor == 1 ? !r.conn_close : r.conn_keep_alive && !r.conn_close;
		if (c->rejected) {
			rp.status = 503;        /* over max_connections: answered, then closed */
			keep = false;
		} else if (r.method == M_OTHER) {
			rp.status = 405;
			keep = false;           /* its body's framing is none of our business */
		} else if (r.has_te) {
			rp.status = 501;        /* RFC 9112 6.1: a transfer coding we do not take */
			keep = false;
		} else if (r.nhost > 1 || (r.minor == 1 && r.nhost == 0)) {
			rp.status = 400;        /* RFC 9112 3.2: exactly one Host in 1.1 */
			keep = false;
		} else if ((rp.status = target_path(r.target, r.target_len, &path, &pn)) == 0) {
			rp.status = resolve(h->rootfd, path, pn, &fd, &sb, leaf);
		}
		c->discard = keep && r.has_cl ? r.content_length : 0;
	}
	c->close_after = !keep;
	bool head_only = hlen && r.method == M_HEAD;
	if (rp.status == 200) {
		rp.ctype = content_type(leaf);
		rp.length = (uint64_t)sb.st_size;
		rp.has_mtime = true;
		rp.mtime = sb.st_mtime;
		preconditions(&r, &rp);
	} else if (rp.status == 301) {
		rp.loc = path;
		rp.loc_len = pn;
	}
	put_head(c, &rp, !head_only, parsed ? r.minor : 1, wall);
	c->file = -1;
	c->file_off = 0;
	c->file_left = 0;
	if (fd >= 0 && (head_only || (rp.status != 200 && rp.status != 206))) {
		close(fd);
	} else if (fd >= 0) {
		c->file = fd;
		c->file_off = rp.status == 206 ? rp.first : 0;
		c->file_left = rp.length;
	}
	c->state = CS_SEND;
	if (h->log_level >= US_LOG_DEBUG) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &c->peer.sin_addr, ip, sizeof ip);
		bool named = hlen && r.method_s && r.target;
		US_LOG(h, US_LOG_DEBUG, "http: %s:%u \"%.*s %.*s\" %d %llu", ip,
		       ntohs(c->peer.sin_port), named ? (int)r.method_len : 1, named ? r.method_s : "-",
		       named ? (int)(r.target_len < 200 ? r.target_len : 200) : 1,
		       named ? r.target : "-", rp.status,
		       (unsigned long long)(c->out_len + c->file_left));
	}
}

enum pump_result { P_WAIT, P_DONE, P_FAIL };

/* Send what is queued, refilling out[] from the file, until the socket is full or all is sent. */
static enum pump_result pump(struct us_http *h, struct conn *c, uint64_t now)
{
	/* Head and the start of the body go in one send: sent apart, Nagle
	 * holds the body until the head is ACKed, and a keep-alive client
	 * delays that ACK (~40 ms per request). */
	if (c->out_off == 0 && c->out_len < sizeof c->out && c->file_left > 0 && c->file >= 0) {
		size_t room = sizeof c->out - c->out_len;
		size_t want = c->file_left < room ? (size_t)c->file_left : room;
		ssize_t n = pread(c->file, c->out + c->out_len, want, (off_t)c->file_off);
		if (n < 0 && errno != EINTR)
			return P_FAIL;
		if (n > 0) {
			c->out_len += (size_t)n;
			c->file_off += (uint64_t)n;
			c->file_left -= (uint64_t)n;
		}
	}
	for (;;) {
		if (c->out_off == c->out_len) {
			if (c->file_left == 0)
				break;
			size_t want = c->file_left < sizeof c->out ? (size_t)c->file_left : sizeof c->out;
			ssize_t n = pread(c->file, c->out, want, (off_t)c->file_off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return P_FAIL;  /* an error, or the file shrank: the length was promised */
			c->out_off = 0;
			c->out_len = (size_t)n;
			c->file_off += (uint64_t)n;
			c->file_left -= (uint64_t)n;
		}
		ssize_t n = us_send(h->st, c->fd, c->out + c->out_off, c->out_len - c->out_off,
				    MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? P_WAIT : P_FAIL;
		if (n == 0)
			return P_WAIT;
		c->out_off += (size_t)n;
		c->since = now;
	}
	if (c->file >= 0) {
		close(c->file);
		c->file = -1;
	}
	return P_DONE;
}

/* Read what the socket has into in[] (or, while a body is skipped, drop it). False: close. */
static bool conn_read(struct us_http *h, struct conn *c, uint64_t now)
{
	ssize_t n;
	if (c->discard) {
		size_t want = c->discard < sizeof c->out ? (size_t)c->discard : sizeof c->out;
		n = us_recv(h->st, c->fd, c->out, want, MSG_DONTWAIT);
		if (n > 0) {
			c->discard -= (uint64_t)n;
			c->since = now;         /* a body in progress is progress */
		}
	} else {
		if (c->in_len == sizeof c->in)
			return true;
		n = us_recv(h->st, c->fd, c->in + c->in_len, sizeof c->in - c->in_len, MSG_DONTWAIT);
		if (n > 0)
			c->in_len += (size_t)n;
	}
	if (n == 0)
		return false;                   /* the client is done (a partial head is dropped) */
	/* Bytes of a head are not progress: a head must be complete within
	 * HTTP_IDLE_S of the connection going idle, however slowly it trickles. */
	return n > 0 || errno == EAGAIN || errno == EWOULDBLOCK;
}

/*
 * Move c as far as it goes without waiting, after poll reported rev on it.
 * now is the stack's clock (ns), wall the time for Date. False: close it now.
 */
static bool conn_run(struct us_http *h, struct conn *c, short rev, uint64_t now, time_t wall)
{
	if (c->state == CS_LINGER) {
		char tmp[4096];
		for (int k = 0; k < 16; k++) {
			ssize_t n = us_recv(h->st, c->fd, tmp, sizeof tmp, MSG_DONTWAIT);
			if (n == 0)
				return false;
			if (n < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK;
		}
		return true;
	}
	if (c->state == CS_HEAD && (rev & (POLLIN | POLLHUP | POLLERR)) && !conn_read(h, c, now))
		return false;
	for (;;) {
		if (c->state == CS_SEND) {
			enum pump_result pr = pump(h, c, now);
			if (pr == P_FAIL)
				return false;
			if (pr == P_WAIT)
				return true;
			c->since = now;
			if (c->close_after) {
				/* Lingering close: a FIN now, and the RST that closing with
				 * unread input would send (RFC 2525 2.17) only after the
				 * client has had time to read the response. */
				us_shutdown(h->st, c->fd, SHUT_WR);
				c->state = CS_LINGER;
				return true;
			}
			c->state = CS_HEAD;
			continue;
		}
		/* CS_HEAD: skip the rest of a body, then empty lines (RFC 9112 2.2). */
		if (c->discard && c->in_len) {
			size_t d = c->discard < c->in_len ? (size_t)c->discard : c->in_len;
			memmove(c->in, c->in + d, c->in_len - d);
			c->in_len -= d;
			c->discard -= d;
		}
		if (c->discard)
			return true;
		size_t skip = 0;
		while (skip < c->in_len && (c->in[skip] == '\n' ||
					   (c->in[skip] == '\r' && skip + 1 < c->in_len &&
					    c->in[skip + 1] == '\n')))
			skip += c->in[skip] == '\n' ? 1 : 2;
		if (skip) {
			memmove(c->in, c->in + skip, c->in_len - skip);
			c->in_len -= skip;
			c->scan = 0;
		}
		size_t hl = head_length(c->in, c->in_len, &c->scan);
		if (hl == 0 && c->in_len < sizeof c->in)
			return true;            /* wait for the rest */
		respond(h, c, hl, wall);
		c->scan = 0;
		if (c->close_after || hl == 0) {
			c->in_len = 0;          /* nothing after this request is answered */
		} else {
			memmove(c->in, c->in + hl, c->in_len - hl);
			c->in_len -= hl;
		}
	}
}

/* Whether c has waited longer than its state allows (RFC 9112 9.5 lets us close idle ones). */
static bool conn_expired(const struct conn *c, uint64_t now)
{
	uint64_t limit = c->state == CS_HEAD ? HTTP_IDLE_S : c->state == CS_SEND ? HTTP_SEND_STALL_S
										  : HTTP_LINGER_S;
	return now - c->since > limit * NS_PER_S;
}

static short conn_events(const struct conn *c)
{
	return c->state == CS_SEND ? POLLOUT : POLLIN;
}

static void conn_free(struct us_http *h, struct worker *w, int i)
{
	struct conn *c = w->conns[i];
	if (c->file >= 0)
		close(c->file);
	if (c->rejected) {
		w->nrejected--;
	} else {
		w->nserved--;
		atomic_fetch_sub(&h->nconns, 1);
	}
	us_close(h->st, c->fd);
	free(c);
	w->conns[i] = w->conns[--w->n];
}

/* ---------------------------------------------------------------------- */
/* 3. Workers                                                             */
/* ---------------------------------------------------------------------- */

/*
 * Take a connection slot for a new connection: served if the service has
 * fewer than max_connections (and this worker has room), else one of the
 * HTTP_REJECT_MAX per worker that read their request and get 503 with
 * Retry-After. False: not even that, the connection is closed at once.
 */
static bool take_slot(struct us_http *h, struct worker *w, bool *rejected)
{
	if (w->nserved < HTTP_MAX_CONNS) {
		if (atomic_fetch_add(&h->nconns, 1) < h->max_conns) {
			w->nserved++;
			*rejected = false;
			return true;
		}
		atomic_fetch_sub(&h->nconns, 1);
	}
	if (w->nrejected < HTTP_REJECT_MAX) {
		w->nrejected++;
		*rejected = true;
		return true;
	}
	return false;
}

static void accept_some(struct us_http *h, struct worker *w, uint64_t now)
{
	for (int k = 0; k < ACCEPT_BURST; k++) {
		struct sockaddr_in peer = { .sin_family = AF_INET };
		socklen_t pl = sizeof peer;
		int fd = us_accept(h->st, h->lfd, (struct sockaddr *)&peer, &pl);
		if (fd < 0)
			return;                 /* EAGAIN: another worker took it, or none left */
		bool rejected;
		if (!take_slot(h, w, &rejected)) {
			us_close(h->st, fd);    /* far over the limit: closed */
			continue;
		}
		struct conn *c = malloc(sizeof *c);
		if (!c) {
			if (rejected) {
				w->nrejected--;
			} else {
				w->nserved--;
				atomic_fetch_sub(&h->nconns, 1);
			}
			us_close(h->st, fd);
			continue;
		}
		us_fcntl(h->st, fd, F_SETFL, O_NONBLOCK);
		c->fd = fd;
		c->state = CS_HEAD;
		c->since = now;
		c->peer = peer;
		c->in_len = c->scan = 0;
		c->discard = 0;
		c->out_off = c->out_len = 0;
		c->file = -1;
		c->file_off = c->file_left = 0;
		c->close_after = false;
		c->rejected = rejected;
		w->conns[w->n++] = c;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct us_http *h = w->h;
	while (!atomic_load(&h->stop)) {
		w->p[0] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
		for (int i = 0; i < w->n; i++)
			w->p[i + 1] = (struct pollfd){ .fd = w->conns[i]->fd,
						       .events = conn_events(w->conns[i]) };
		int n = us_poll(h->st, w->p, (nfds_t)w->n + 1, POLL_MS);
		if (n < 0 && errno == ESHUTDOWN)
			break;                  /* the stack is stopping */
		if (n < 0)                      /* ENOMEM: try again soon; timeouts still run */
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
		uint64_t now = us_stack_now(h->st);
		time_t wall = time(NULL);
		/* Backwards: conn_free moves the last connection into the freed slot. */
		for (int i = w->n - 1; i >= 0; i--) {
			struct conn *c = w->conns[i];
			short rev = n > 0 ? w->p[i + 1].revents : 0;
			if ((rev && !conn_run(h, c, rev, now, wall)) || conn_expired(c, now))
				conn_free(h, w, i);
		}
		if (n > 0 && (w->p[0].revents & POLLIN))
			accept_some(h, w, now);
	}
	while (w->n)
		conn_free(h, w, w->n - 1);
	return NULL;
}

struct us_http *us_http_start(us_stack *st, const struct us_service_config *c,
			      enum us_log_level log_level)
{
	struct us_http *h = calloc(1, sizeof *h);
	if (!h) {
		fprintf(stderr, "ustackd: http port %u: %s\n", c->port, strerror(errno));
		return NULL;
	}
	h->st = st;
	h->log_level = log_level;
	h->port = c->port;
	h->lfd = -1;
	h->max_conns = c->max_connections ? (int)c->max_connections : HTTP_WORKERS * HTTP_MAX_CONNS;
	atomic_init(&h->nconns, 0);
	atomic_init(&h->stop, false);
	h->rootfd = open(c->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h->rootfd < 0) {
		fprintf(stderr, "ustackd: http port %u: root %s: %s\n", c->port, c->root,
			strerror(errno));
		free(h);
		return NULL;
	}
	h->lfd = us_socket(st, AF_INET, SOCK_STREAM, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(c->port) };
	if (h->lfd < 0 || us_setsockopt(st, h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    us_bind(st, h->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    us_listen(st, h->lfd, 1024) < 0 || us_fcntl(st, h->lfd, F_SETFL, O_NONBLOCK) < 0) {
		fprintf(stderr, "ustackd: http/tcp port %u: %s\n", c->port, strerror(errno));
		us_http_stop(h);
		return NULL;
	}
	for (int i = 0; i < HTTP_WORKERS; i++) {
		struct worker *w = &h->w[i];
		w->h = h;
		w->conns = calloc(HTTP_MAX_CONNS + HTTP_REJECT_MAX, sizeof *w->conns);
		w->p = calloc(HTTP_MAX_CONNS + HTTP_REJECT_MAX + 1, sizeof *w->p);
		if (!w->conns || !w->p || pthread_create(&w->th, NULL, worker_main, w) != 0) {
			fprintf(stderr, "ustackd: http port %u: cannot start a worker\n", c->port);
			us_http_stop(h);
			return NULL;
		}
		w->started = true;
	}
	fprintf(stderr, "ustackd: http on tcp port %u, root %s\n", c->port, c->root);
	return h;
}

void us_http_stop(struct us_http *h)
{
	if (!h)
		return;
	atomic_store(&h->stop, true);
	for (int i = 0; i < HTTP_WORKERS; i++) {
		struct worker *w = &h->w[i];
		if (w->started)
			pthread_join(w->th, NULL);
		free(w->conns);
		free(w->p);
	}
	if (h->lfd >= 0)
		us_close(h->st, h->lfd);
	close(h->rootfd);
	free(h);
}
