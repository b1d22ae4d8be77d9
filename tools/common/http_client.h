/*
 * http_client.h — the parts of an HTTP/1.1 client that are pure
 * functions over bytes: URL parsing and redirect resolution (RFC 3986),
 * the request head (RFC 9112 §3) with curl's -H rules, the response
 * head (RFC 9112 §4-6: status line, fields, how the body is framed), the chunked transfer coding (RFC 9112 §7.1), and curl's
 * text formats (the -w write-out and the progress meter). uscurl does
 * the sockets, files and clock; nothing here allocates, locks, or reads
 * a clock, so every function can be tested with byte arrays.
 *
 * Prefix hc_. Failures are returned as curl's exit codes (enum hc_code)
 * with a message in a caller's buffer, because that is what uscurl
 * reports.
 */
#ifndef US_TOOLS_HTTP_CLIENT_H
#define US_TOOLS_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* curl's exit codes (libcurl's CURLcode values) that uscurl uses. */
enum hc_code {
	HC_OK = 0,
	HC_UNSUPPORTED_PROTOCOL = 1,
	HC_FAILED_INIT = 2,
	HC_URL_MALFORMAT = 3,
	HC_COULDNT_RESOLVE_HOST = 6,
	HC_COULDNT_CONNECT = 7,
	HC_WEIRD_SERVER_REPLY = 8,
	HC_PARTIAL_FILE = 18,
	HC_HTTP_RETURNED_ERROR = 22,
	HC_WRITE_ERROR = 23,
	HC_READ_ERROR = 26,
	HC_OPERATION_TIMEDOUT = 28,
	HC_RANGE_ERROR = 33,
	HC_TOO_MANY_REDIRECTS = 47,
	HC_GOT_NOTHING = 52,
	HC_SEND_ERROR = 55,
	HC_RECV_ERROR = 56,
	HC_SEND_FAIL_REWIND = 65,
};

#define HC_URL_MAX 8192         /* longest URL (and request target) accepted */
#define HC_HOST_MAX 256         /* a DNS name is at most 253 characters */
#define HC_HEAD_MAX (100 * 1024)  /* largest response head, as curl's limit */

/* http://[user[:pass]@]host[:port][/path][?query][#fragment] */
struct hc_url {
	char host[HC_HOST_MAX];         /* as written (case kept) */
	uint16_t port;                  /* 80 unless given */
	bool port_given;
	char userinfo[256];             /* "user:pass" (still percent-encoded), "" if none */
	char target[HC_URL_MAX];        /* path and query, never empty ("/"), no fragment */
	char fragment[HC_URL_MAX];      /* "#..." as written (never sent), or "" */
};

/*
 * Parse an absolute URL. A URL without "scheme://" is taken as http, as
 * curl guesses. Returns HC_OK, HC_UNSUPPORTED_PROTOCOL (any scheme but
 * http; https says TLS is not implemented) or HC_URL_MALFORMAT (empty or
 * bad host, bad port, spaces or control characters, IPv6 literals), with
 * curl's wording in err. Percent-encoding is left as it is.
 */
int hc_url_parse(const char *s, struct hc_url *u, char *err, size_t errlen);

/* "http://host[:port]/target#fragment": the port only when not 80; the fragment as written (curl's url_effective). */
void hc_url_format(const struct hc_url *u, char *out, size_t outlen);

/* The Host field value: "host" or "host:port" when the port is not 80. */
void hc_url_hostport(const struct hc_url *u, char *out, size_t outlen);

/*
 * Resolve a Location field value against the URL it came from (RFC 3986
 * §5.2, remove_dot_segments included): absolute URLs, "//authority/...",
 * "/path", "?query" and relative paths. Spaces and bytes outside ASCII
 * are percent-encoded, as curl does. Returns 0, or -1 if the result
 * would be longer than outlen.
 */
int hc_url_join(const struct hc_url *base, const char *loc, char *out, size_t outlen);

/* The last path segment (no query): -O's file name; "" if it has none. */
void hc_url_filename(const struct hc_url *u, char *out, size_t outlen);

/*
 * RFC 9110 5.6.7: an HTTP-date in any of its three forms (IMF-fixdate,
 * RFC 850, asctime) in v[0..n), as seconds since the epoch. False if it
 * is none of them.
 */
bool hc_parse_http_date(const char *v, size_t n, time_t *out);

/* RFC 4648 base64 of in[0..len) into out (NUL-terminated); -1 if it does not fit. */
int hc_base64(const void *in, size_t len, char *out, size_t outlen);

/* Percent-decode s into out (NUL-terminated, truncated to fit); "%zz" stays as it is. */
void hc_percent_decode(const char *s, char *out, size_t outlen);

#define HC_REQUEST_MAX (64 * 1024)  /* largest request head uscurl sends */

/* The body a request carries, and so the fields that describe it. */
enum hc_body {
	HC_BODY_NO,
	HC_BODY_FORM,                   /* -d: Content-Length, Content-Type form-urlencoded */
	HC_BODY_UPLOAD,                 /* -T FILE: Content-Length, Expect: 100-continue */
	HC_BODY_UPLOAD_CHUNKED,         /* -T -: Transfer-Encoding: chunked, Expect */
};

/* What goes into a request head. */
struct hc_request {
	const char *method;
	const struct hc_url *url;
	const char *user_agent;
	const char *credentials;        /* "user:pass" for Basic authentication, or NULL */
	const char *range;              /* "0-99", "100-": a Range: bytes= field, or NULL */
	const char *const *headers;     /* -H arguments */
	int nheaders;
	enum hc_body body;
	size_t body_len;
	bool other_host;                /* not the first URL's host (after a redirect) */
};

/*
 * Whether a request with this body says "Expect: 100-continue" and waits
 * for the 100 before sending it: as curl 7.88, every upload (-T), and a -d
 * body larger than HC_EXPECT_100_THRESHOLD.
 */
#define HC_EXPECT_100_THRESHOLD (1024 * 1024)
bool hc_expects_100(enum hc_body body, size_t body_len);

/*
 * curl's --data-urlencode encoding of in[0..n): letters, digits and
 * "-._~" as they are, space as '+', every other byte as %xx (lower-case
 * hex, as curl_easy_escape). Returns the length written (NUL-terminated),
 * or -1 if it does not fit.
 */
int hc_urlencode(const char *in, size_t n, char *out, size_t outlen);

/* Is a -H argument "Name: value", "Name:" or "Name;" with a token name and no CR/LF? */
bool hc_header_arg_ok(const char *h);

/*
 * The request head (RFC 9112 §3) in curl's order: request line, Host (a
 * -H Host is put here, first, as curl does), Authorization (Basic, from
 * credentials), Range, User-Agent, Accept, Transfer-Encoding (chunked
 * upload), then the -H lines, then Content-Length, Content-Type
 * (application/x-www-form-urlencoded for -d) and Expect: 100-continue
 * (uploads) -- each default left out when a -H names the same field.
 * -H lines: "Name: value" as written, "Name:" sends nothing (it only
 * removes a default), "Name;" sends "Name:" with an empty value. On
 * another host, Authorization and Cookie from -H are not sent (curl's
 * rule against leaking credentials on redirects). Returns the length
 * written to out (NUL-terminated), or -1 if it does not fit.
 */
long hc_request_head(const struct hc_request *rq, char *out, size_t outlen);

/* How a response's body ends (RFC 9112 §6.3). */
enum hc_framing {
	HC_BODY_NONE,           /* HEAD, 1xx, 204, 304 */
	HC_BODY_LENGTH,         /* Content-Length */
	HC_BODY_CHUNKED,        /* Transfer-Encoding: ..., chunked */
	HC_BODY_CLOSE,          /* until the server closes */
};

struct hc_response {
	int minor;                      /* HTTP/1.minor */
	int status;                     /* 100..999 */
	enum hc_framing framing;
	uint64_t content_length;        /* HC_BODY_LENGTH */
	bool keep_alive;                /* the connection may carry another request */
	bool has_location;
	char location[HC_URL_MAX];
	char content_type[256];
	bool has_range_start;           /* Content-Range: bytes N-...: range_start = N */
	uint64_t range_start;
	int64_t retry_after;            /* Retry-After delay-seconds, 0 if none */
	time_t retry_after_date;        /* Retry-After as an HTTP-date, 0 if none */
};

/*
 * Length of the head at the start of buf[0..len): the offset just past
 * its empty line (CRLF CRLF, or bare LF LF as RFC 9112 §2.2 allows), 0
 * if it has not all arrived.
 */
size_t hc_head_length(const char *buf, size_t len);

/*
 * Parse a complete head (hc_head_length bytes). head_request: the request
 * was HEAD (no body whatever the fields say). Returns HC_OK or
 * HC_WEIRD_SERVER_REPLY with the reason in err.
 */
int hc_parse_head(const char *head, size_t len, bool head_request, struct hc_response *r,
		  char *err, size_t errlen);

/*
 * Call fn for each line of a head (status line and fields, not the empty
 * line), without its CR LF. Used to print "< " lines and -i output.
 */
void hc_head_lines(const char *head, size_t len,
		   void (*fn)(void *arg, const char *line, size_t n), void *arg);

/* The chunked decoder: feed it the body bytes as they come. */
struct hc_chunked {
	int state;
	uint64_t left;                  /* bytes left in the current chunk */
	char line[1024];                /* the chunk-size or trailer line so far */
	size_t linelen;
	bool done;                      /* the last chunk and trailers are in */
};

void hc_chunked_init(struct hc_chunked *c);

/*
 * Decode in[0..len): chunk data goes to data(arg, p, n), each trailer
 * field line to trailer(arg, line, n) (may be NULL). Returns the number
 * of bytes consumed (less than len only once done: what follows belongs
 * to the next response), -1 on malformed input (reason in err), or -2 if
 * data returned non-zero (a write error; the caller knows why).
 */
long hc_chunked_feed(struct hc_chunked *c, const char *in, size_t len,
		     int (*data)(void *arg, const char *p, size_t n),
		     void (*trailer)(void *arg, const char *line, size_t n), void *arg,
		     char *err, size_t errlen);

/* What -w can print (curl 7.88's names). A NULL string is JSON null (and prints nothing). */
struct hc_writeout_vars {
	int http_code;                  /* 0 if no response */
	int http_connect;               /* always 0: no proxies */
	int http_minor;                 /* HTTP/1.minor of the last response, -1 if none */
	int num_redirects, num_connects;
	int exitcode;
	int remote_port, local_port;
	uint64_t size_download, size_header, size_request, size_upload;
	uint64_t speed_download, speed_upload;          /* bytes per second */
	uint64_t time_namelookup, time_connect, time_appconnect, time_pretransfer,
		 time_starttransfer, time_redirect, time_total;   /* microseconds */
	const char *url, *url_effective, *redirect_url, *content_type, *remote_ip, *local_ip,
		   *method, *errormsg, *filename_effective, *scheme;
	const char *version;            /* %{json}'s "curl_version" */
	const char *head;               /* the last response's head: header_json, %header{} */
	size_t head_len;
};

/*
 * Print fmt to out as curl 7.88's --write-out does: %{name} replaced
 * (names case-insensitive; an unknown one is reported on err and prints
 * nothing), %header{name} the last response's field, %{json} and
 * %{header_json} as JSON, %{stdout} and %{stderr} switch the stream,
 * %{onerror} ends the output unless the exit code is non-zero, %% a
 * percent sign, \n \r \t escapes (any other backslash pair as it is).
 */
void hc_writeout(const char *fmt, const struct hc_writeout_vars *v, FILE *out, FILE *err);

/*
 * curl's progress meter (lib/progress.c): hc_meter_calc takes the clock
 * (microseconds, monotonic) and the byte counts; it returns true when a
 * line is due (a new second began, or force: the final line), keeping
 * curl's "current speed" over the last HC_METER_SAMPLES - 1 seconds.
 * hc_meter_line formats the status line (no \r, no \n); a total of -1 is
 * unknown.
 */
#define HC_METER_SAMPLES 6
struct hc_meter {
	uint64_t start_us, timespent_us;
	uint64_t downloaded, uploaded, dlspeed, ulspeed, current_speed;
	uint64_t lastshow;              /* the second last shown, + 1; 0: never */
	uint64_t speeder[HC_METER_SAMPLES], speeder_time[HC_METER_SAMPLES];
	unsigned speeder_c;
};
extern const char hc_progress_heading[];
void hc_meter_init(struct hc_meter *m, uint64_t start_us);
bool hc_meter_calc(struct hc_meter *m, uint64_t now_us, uint64_t dl, uint64_t ul, bool force);
void hc_meter_line(const struct hc_meter *m, char *out, size_t outlen, int64_t dl_total,
		   int64_t ul_total);

/*
 * curl's -# progress bar (src/tool_cb_prg.c): '#'s and a percentage in
 * width columns, at most 10 updates a second; with no known size, a
 * moving "-=O=-". hc_bar_end ends its line.
 */
#define HC_BAR_MAX 256
struct hc_bar {
	int width, calls, tick, bar, barmove;
	int64_t initial_size;           /* -C offset: the bar counts the whole file */
	uint64_t prev, prevtime_ms;
};
void hc_bar_init(struct hc_bar *b, int width, int64_t initial_size);
void hc_bar_update(struct hc_bar *b, FILE *f, uint64_t now_ms, uint64_t dltotal, uint64_t dlnow,
		   uint64_t ultotal, uint64_t ulnow);
void hc_bar_end(struct hc_bar *b, FILE *f);

#endif
