/*
 * http_client.c — URL, request and response heads, chunked coding and
 * curl's output formats for uscurl (see http_client.h). Pure functions over caller
 * buffers: no sockets, no allocation, no clock.
 */
#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tools/common/http_client.h"

static int seterr(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool is_scheme(const char *s, size_t n)
{
	if (n == 0 || n > 15 || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* Length of a scheme followed by ':' at the start of s, or 0. */
static size_t scheme_len(const char *s)
{
	const char *c = strchr(s, ':');
	if (!c || !is_scheme(s, (size_t)(c - s)))
		return 0;
	return (size_t)(c - s);
}

int hc_url_parse(const char *s, struct hc_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	u->port = 80;
	size_t n = strlen(s);
	if (n == 0)
		return seterr(err, errlen, HC_URL_MALFORMAT, "URL using bad/illegal format or missing URL");
	if (n >= HC_URL_MAX)
		return seterr(err, errlen, HC_URL_MALFORMAT, "URL rejected: longer than %d bytes",
			      HC_URL_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return seterr(err, errlen, HC_URL_MALFORMAT,
				      "URL rejected: Malformed input to a URL function "
				      "(a space or control character at offset %zu)", i);

	const char *p = s;
	size_t sl = scheme_len(s);
	if (sl && strncmp(s + sl, "://", 3) == 0) {
		char scheme[16];
		memcpy(scheme, s, sl);
		scheme[sl] = '\0';
		if (strcasecmp(scheme, "https") == 0)
			return seterr(err, errlen, HC_UNSUPPORTED_PROTOCOL,
				      "Protocol \"%s\" not supported (TLS is not implemented by uscurl)",
				      scheme);
		if (strcasecmp(scheme, "http") != 0)
			return seterr(err, errlen, HC_UNSUPPORTED_PROTOCOL,
				      "Protocol \"%s\" not supported", scheme);
		p = s + sl + 3;
	} else if (sl && (strncasecmp(s, "http:", 5) == 0 || strncasecmp(s, "https:", 6) == 0)) {
		/* "http:/x", "http:x": a scheme without its "//". */
		return seterr(err, errlen, HC_URL_MALFORMAT,
			      "URL rejected: Bad URL, expected \"//\" after \"%.*s:\"", (int)sl, s);
	}
	/* else: no scheme, http guessed (as curl does for "host/path"). */

	size_t alen = strcspn(p, "/?#");
	if (alen == 0)
		return seterr(err, errlen, HC_URL_MALFORMAT, "URL rejected: No host part in the URL");
	const char *auth = p, *hp = p;
	const char *at = memrchr(auth, '@', alen);
	if (at) {
		size_t ul = (size_t)(at - auth);
		if (ul >= sizeof u->userinfo)
			return seterr(err, errlen, HC_URL_MALFORMAT, "URL rejected: user name too long");
		memcpy(u->userinfo, auth, ul);
		u->userinfo[ul] = '\0';
		hp = at + 1;
	}
	size_t hplen = alen - (size_t)(hp - auth);
	if (hplen > 0 && hp[0] == '[')
		return seterr(err, errlen, HC_URL_MALFORMAT,
			      "URL rejected: IPv6 addresses are not supported (ustack is IPv4 only)");
	const char *colon = memchr(hp, ':', hplen);
	size_t hlen = colon ? (size_t)(colon - hp) : hplen;
	if (hlen == 0)
		return seterr(err, errlen, HC_URL_MALFORMAT, "URL rejected: No host part in the URL");
	if (hlen > 253)
		return seterr(err, errlen, HC_URL_MALFORMAT, "URL rejected: Bad hostname (too long)");
	for (size_t i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)hp[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return seterr(err, errlen, HC_URL_MALFORMAT, "URL rejected: Bad hostname");
	}
	memcpy(u->host, hp, hlen);
	u->host[hlen] = '\0';
	if (colon) {
		const char *ps = colon + 1;
		size_t plen = hplen - hlen - 1;
		if (plen > 0) {
			unsigned long v = 0;
			bool ok = plen <= 5;
			for (size_t i = 0; ok && i < plen; i++) {
				if (!isdigit((unsigned char)ps[i]))
					ok = false;
				else
					v = v * 10 + (unsigned long)(ps[i] - '0');
			}
			if (!ok || v == 0 || v > 65535)
				return seterr(err, errlen, HC_URL_MALFORMAT,
					      "URL rejected: Port number was not a decimal number "
					      "between 1 and 65535");
			u->port = (uint16_t)v;
			u->port_given = true;
		}
	}

	const char *rest = p + alen;
	size_t rlen = strcspn(rest, "#");
	snprintf(u->fragment, sizeof u->fragment, "%s", rest + rlen);
	if (rlen == 0 || rest[0] != '/') {
		/* "" or "?query": the path is "/". */
		u->target[0] = '/';
		memcpy(u->target + 1, rest, rlen);
		u->target[rlen + 1] = '\0';
	} else {
		memcpy(u->target, rest, rlen);
		u->target[rlen] = '\0';
	}
	return HC_OK;
}

void hc_url_hostport(const struct hc_url *u, char *out, size_t outlen)
{
	if (u->port != 80)
		snprintf(out, outlen, "%s:%u", u->host, u->port);
	else
		snprintf(out, outlen, "%s", u->host);
}

void hc_url_format(const struct hc_url *u, char *out, size_t outlen)
{
	char hp[HC_HOST_MAX + 8];
	hc_url_hostport(u, hp, sizeof hp);
	snprintf(out, outlen, "http://%s%s%s", hp, u->target, u->fragment);
}

void hc_url_filename(const struct hc_url *u, char *out, size_t outlen)
{
	size_t plen = strcspn(u->target, "?");
	const char *seg = u->target;
	for (size_t i = 0; i < plen; i++)
		if (u->target[i] == '/')
			seg = u->target + i + 1;
	size_t n = (size_t)(u->target + plen - seg);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, seg, n);
	out[n] = '\0';
}

/* RFC 3986 §5.2.4 remove_dot_segments on path[0..n), into out. */
static void remove_dots(const char *path, size_t n, char *out, size_t outlen)
{
	char in[HC_URL_MAX];
	if (n >= sizeof in)
		n = sizeof in - 1;
	memcpy(in, path, n);
	in[n] = '\0';
	char *ip = in;
	size_t ol = 0;
	out[0] = '\0';
	while (*ip) {
		if (strncmp(ip, "../", 3) == 0) {
			ip += 3;
		} else if (strncmp(ip, "./", 2) == 0) {
			ip += 2;
		} else if (strncmp(ip, "/./", 3) == 0) {
			ip += 2;
		} else if (strcmp(ip, "/.") == 0) {
			ip[1] = '\0';
		} else if (strncmp(ip, "/../", 4) == 0 || strcmp(ip, "/..") == 0) {
			if (ip[3] == '/')
				ip += 3;
			else {
				ip += 2;
				ip[0] = '/';
			}
			while (ol > 0 && out[ol - 1] != '/')
				ol--;
			if (ol > 0)
				ol--;
			out[ol] = '\0';
		} else if (strcmp(ip, ".") == 0 || strcmp(ip, "..") == 0) {
			ip += strlen(ip);
		} else {
			/* The segment: its leading '/' (if any) up to the next '/'. */
			size_t seg = ip[0] == '/';
			while (ip[seg] && ip[seg] != '/')
				seg++;
			if (ol + seg < outlen) {
				memcpy(out + ol, ip, seg);
				ol += seg;
				out[ol] = '\0';
			}
			ip += seg;
		}
	}
}

/* Append s[0..n) to out, percent-encoding spaces, controls and non-ASCII bytes. */
static int append_enc(char *out, size_t outlen, size_t *ol, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f) {
			if (*ol + 3 >= outlen)
				return -1;
			out[(*ol)++] = '%';
			out[(*ol)++] = hex[c >> 4];
			out[(*ol)++] = hex[c & 15];
		} else {
			if (*ol + 1 >= outlen)
				return -1;
			out[(*ol)++] = (char)c;
		}
	}
	out[*ol] = '\0';
	return 0;
}

int hc_url_join(const struct hc_url *base, const char *loc, char *out, size_t outlen)
{
	while (*loc == ' ' || *loc == '\t')
		loc++;
	size_t ll = strlen(loc);
	while (ll > 0 && (loc[ll - 1] == ' ' || loc[ll - 1] == '\t'))
		ll--;
	size_t ol = 0;
	out[0] = '\0';
	size_t sl = scheme_len(loc);
	if (sl && sl < ll)
		return append_enc(out, outlen, &ol, loc, ll);
	if (ll >= 2 && loc[0] == '/' && loc[1] == '/') {
		if (append_enc(out, outlen, &ol, "http:", 5) < 0)
			return -1;
		return append_enc(out, outlen, &ol, loc, ll);
	}
	char prefix[HC_HOST_MAX + 300];
	char hp[HC_HOST_MAX + 8];
	hc_url_hostport(base, hp, sizeof hp);
	snprintf(prefix, sizeof prefix, "http://%s%s%s", base->userinfo,
		 base->userinfo[0] ? "@" : "", hp);
	if (append_enc(out, outlen, &ol, prefix, strlen(prefix)) < 0)
		return -1;

	/* Build the new target (path and query) in t, then remove dot segments. */
	char t[HC_URL_MAX];
	size_t tl = 0;
	t[0] = '\0';
	size_t bpath = strcspn(base->target, "?");
	size_t lfrag = strcspn(loc, "#");
	if (lfrag > ll)
		lfrag = ll;
	if (lfrag == 0) {
		/* "" or "#frag": the same resource. */
		return append_enc(out, outlen, &ol, base->target, strlen(base->target));
	}
	if (loc[0] == '/') {
		if (append_enc(t, sizeof t, &tl, loc, lfrag) < 0)
			return -1;
	} else if (loc[0] == '?') {
		if (append_enc(t, sizeof t, &tl, base->target, bpath) < 0 ||
		    append_enc(t, sizeof t, &tl, loc, lfrag) < 0)
			return -1;
	} else {
		size_t dir = bpath;
		while (dir > 0 && base->target[dir - 1] != '/')
			dir--;
		if (append_enc(t, sizeof t, &tl, base->target, dir) < 0 ||
		    append_enc(t, sizeof t, &tl, loc, lfrag) < 0)
			return -1;
	}
	size_t tp = strcspn(t, "?");
	char path[HC_URL_MAX];
	remove_dots(t, tp, path, sizeof path);
	if (!path[0])
		snprintf(path, sizeof path, "/");
	size_t pl = strlen(path);
	if (ol + pl + (tl - tp) >= outlen)
		return -1;
	memcpy(out + ol, path, pl);
	ol += pl;
	memcpy(out + ol, t + tp, tl - tp);
	ol += tl - tp;
	out[ol] = '\0';
	return 0;
}

static int month_index(const char *m)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	for (int i = 0; i < 12; i++)
		if (strncmp(months + 3 * i, m, 3) == 0)
			return i;
	return -1;
}

/*
 * RFC 9110 5.6.7: an HTTP-date in any of its three forms (a recipient
 * MUST accept all three): IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT",
 * RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT" (two-digit years 70..99 are
 * 19xx, 00..69 are 20xx), and asctime
 * "Sun Nov  6 08:49:37 1994". False if v[0..n) is none of them.
 */
bool hc_parse_http_date(const char *v, size_t n, time_t *out)
{
	char s[64], wd[16], mon[4] = "", tz[4] = "";
	if (n == 0 || n >= sizeof s)
		return false;
	memcpy(s, v, n);
	s[n] = '\0';
	struct tm tm = { 0 };
	int day, year, hh, mm, ss, used = -1;
	if (sscanf(s, "%3[A-Za-z], %2d %3s %4d %2d:%2d:%2d %3s%n", wd, &day, mon, &year, &hh, &mm,
		   &ss, tz, &used) == 8 && used == (int)n && strcmp(tz, "GMT") == 0) {
		/* IMF-fixdate */
	} else if (used = -1, sscanf(s, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wd, &day,
				     mon, &year, &hh, &mm, &ss, tz, &used) == 8 &&
		   used == (int)n && strcmp(tz, "GMT") == 0) {
		year += year < 70 ? 2000 : 1900;
	} else if (used = -1, sscanf(s, "%3[A-Za-z] %3s %2d %2d:%2d:%2d %4d%n", wd, mon, &day, &hh,
				     &mm, &ss, &year, &used) == 7 && used == (int)n) {
		/* asctime */
	} else {
		return false;
	}
	int m = month_index(mon);
	if (m < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
		return false;
	tm.tm_year = year - 1900;
	tm.tm_mon = m;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = t;
	return true;
}

int hc_base64(const void *in, size_t len, char *out, size_t outlen)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = in;
	if ((len + 2) / 3 * 4 + 1 > outlen)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)s[i + 1] << 8;
		if (i + 2 < len)
			v |= s[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return 0;
}

void hc_percent_decode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; s[i] && o + 1 < outlen; i++) {
		if (s[i] == '%' && isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], '\0' };
			out[o++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t header_name_len(const char *h)
{
	return strcspn(h, ":;");
}

bool hc_header_arg_ok(const char *h)
{
	size_t n = header_name_len(h);
	if (n == 0 || !h[n] || strpbrk(h, "\r\n"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)h[i]))
			return false;
	return true;
}

static bool header_named(const char *h, const char *name)
{
	size_t n = header_name_len(h);
	return n == strlen(name) && strncasecmp(h, name, n) == 0;
}

static bool user_sets(const struct hc_request *rq, const char *name)
{
	for (int i = 0; i < rq->nheaders; i++)
		if (header_named(rq->headers[i], name))
			return true;
	return false;
}

/* An appender that remembers running out of room. */
struct app {
	char *p;
	size_t len, cap;
	bool full;
};

static void app_add(struct app *a, const char *s, size_t n)
{
	if (a->full || a->len + n + 1 > a->cap) {
		a->full = true;
		return;
	}
	memcpy(a->p + a->len, s, n);
	a->len += n;
	a->p[a->len] = '\0';
}

static void app_str(struct app *a, const char *s)
{
	app_add(a, s, strlen(s));
}

/* The first -H line naming field name, or NULL. */
static const char *user_header(const struct hc_request *rq, const char *name)
{
	for (int i = 0; i < rq->nheaders; i++)
		if (header_named(rq->headers[i], name))
			return rq->headers[i];
	return NULL;
}

/* Append one -H argument: "Name: value" as written, "Name;" empty, "Name:" nothing. */
static void app_user_header(struct app *a, const char *h)
{
	size_t nl = header_name_len(h);
	if (h[nl] == ';') {
		app_add(a, h, nl);
		app_str(a, ":\r\n");
		return;
	}
	const char *v = h + nl + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (!*v)
		return;
	app_str(a, h);
	app_str(a, "\r\n");
}

long hc_request_head(const struct hc_request *rq, char *out, size_t outlen)
{
	struct app a = { out, 0, outlen, outlen == 0 };
	char hp[HC_HOST_MAX + 8];
	hc_url_hostport(rq->url, hp, sizeof hp);
	app_str(&a, rq->method);
	app_str(&a, " ");
	app_str(&a, rq->url->target);
	app_str(&a, " HTTP/1.1\r\n");
	/* curl's order: Host (a -H Host takes its place), Authorization, Range,
	 * User-Agent, Accept, Referer, Transfer-Encoding, then -H, then
	 * Content-Length, Content-Type, Expect. */
	const char *uh = user_header(rq, "Host");
	if (!uh) {
		app_str(&a, "Host: ");
		app_str(&a, hp);
		app_str(&a, "\r\n");
	} else {
		app_user_header(&a, uh);
	}
	if (rq->credentials && !rq->other_host && !user_sets(rq, "Authorization")) {
		char b64[1024];
		if (hc_base64(rq->credentials, strlen(rq->credentials), b64, sizeof b64) < 0)
			return -1;
		app_str(&a, "Authorization: Basic ");
		app_str(&a, b64);
		app_str(&a, "\r\n");
	}
	if (rq->range && !user_sets(rq, "Range")) {
		app_str(&a, "Range: bytes=");
		app_str(&a, rq->range);
		app_str(&a, "\r\n");
	}
	if (!user_sets(rq, "User-Agent")) {
		app_str(&a, "User-Agent: ");
		app_str(&a, rq->user_agent);
		app_str(&a, "\r\n");
	}
	if (!user_sets(rq, "Accept"))
		app_str(&a, "Accept: */*\r\n");
	if (rq->body == HC_BODY_UPLOAD_CHUNKED && !user_sets(rq, "Transfer-Encoding"))
		app_str(&a, "Transfer-Encoding: chunked\r\n");
	for (int i = 0; i < rq->nheaders; i++) {
		const char *h = rq->headers[i];
		if (header_named(h, "Host"))
			continue;
		if (rq->other_host && (header_named(h, "Authorization") || header_named(h, "Cookie")))
			continue;
		app_user_header(&a, h);
	}
	if (rq->body == HC_BODY_FORM || rq->body == HC_BODY_UPLOAD) {
		if (!user_sets(rq, "Content-Length")) {
			char cl[48];
			snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", rq->body_len);
			app_str(&a, cl);
		}
	}
	if (rq->body == HC_BODY_FORM && !user_sets(rq, "Content-Type"))
		app_str(&a, "Content-Type: application/x-www-form-urlencoded\r\n");
	if (hc_expects_100(rq->body, rq->body_len) && !user_sets(rq, "Expect"))
		app_str(&a, "Expect: 100-continue\r\n");
	app_str(&a, "\r\n");
	return a.full ? -1 : (long)a.len;
}

bool hc_expects_100(enum hc_body body, size_t body_len)
{
	return body == HC_BODY_UPLOAD || body == HC_BODY_UPLOAD_CHUNKED ||
	       (body == HC_BODY_FORM && body_len > HC_EXPECT_100_THRESHOLD);
}

int hc_urlencode(const char *in, size_t n, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
		} else if (c == ' ') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '+';
		} else {
			if (o + 3 >= outlen)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= outlen)
		return -1;
	out[o] = '\0';
	return (int)o;
}

size_t hc_head_length(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

void hc_head_lines(const char *head, size_t len,
		   void (*fn)(void *arg, const char *line, size_t n), void *arg)
{
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(head + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - head) : len;
		size_t n = end - i;
		if (n > 0 && head[i + n - 1] == '\r')
			n--;
		if (n == 0)
			break;          /* the empty line ends the head */
		fn(arg, head + i, n);
		i = end + 1;
	}
}

/* Does the comma-separated list v[0..n) contain token tok (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, tok, tl) == 0)
			return true;
	}
	return false;
}

/* The last element of a comma-separated list, trimmed. */
static void last_token(const char *v, size_t n, const char **s, size_t *len)
{
	size_t e = n;
	while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == ','))
		e--;
	size_t b = e;
	while (b > 0 && v[b - 1] != ',')
		b--;
	while (b < e && (v[b] == ' ' || v[b] == '\t'))
		b++;
	*s = v + b;
	*len = e - b;
}

int hc_parse_head(const char *head, size_t len, bool head_request, struct hc_response *r,
		  char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 §4) */
	if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)head[7]) ||
	    head[8] != ' ' || !isdigit((unsigned char)head[9]) ||
	    !isdigit((unsigned char)head[10]) || !isdigit((unsigned char)head[11]) ||
	    (len > 12 && head[12] != ' ' && head[12] != '\r' && head[12] != '\n'))
		return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
			      "Weird server reply: not an HTTP/1.x status line");
	r->minor = head[7] - '0';
	r->status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
	if (r->status < 100)
		return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
			      "Weird server reply: status code %03d", r->status);

	bool have_cl = false, have_te = false, te_chunked = false, conn_close = false,
	     conn_keep = false;
	uint64_t cl = 0;
	const char *nl = memchr(head, '\n', len);
	size_t i = nl ? (size_t)(nl - head) + 1 : len;
	while (i < len) {
		nl = memchr(head + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - head) : len;
		size_t n = end - i;
		const char *line = head + i;
		i = end + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if (line[0] == ' ' || line[0] == '\t')
			continue;       /* obs-fold: a continuation of a field we do not read */
		const char *colon = memchr(line, ':', n);
		if (!colon || colon == line)
			return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
				      "Weird server reply: a header line without a name and colon: "
				      "\"%.*s\"", (int)(n > 60 ? 60 : n), line);
		size_t nlen = (size_t)(colon - line);
		if (line[nlen - 1] == ' ' || line[nlen - 1] == '\t')
			return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
				      "Weird server reply: whitespace before a header's colon");
		const char *v = colon + 1;
		size_t vlen = n - nlen - 1;
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
#define NAME_IS(s) (nlen == sizeof(s) - 1 && strncasecmp(line, s, nlen) == 0)
		if (NAME_IS("Content-Length")) {
			/* A list of equal values is one value (RFC 9110 §8.6). */
			size_t k = 0;
			while (k < vlen) {
				while (k < vlen && (v[k] == ' ' || v[k] == '\t' || v[k] == ','))
					k++;
				if (k >= vlen)
					break;
				uint64_t x = 0;
				size_t digits = 0;
				while (k < vlen && isdigit((unsigned char)v[k])) {
					if (x > (UINT64_MAX - 9) / 10)
						return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
							      "Weird server reply: Content-Length too large");
					x = x * 10 + (uint64_t)(v[k++] - '0');
					digits++;
				}
				while (k < vlen && (v[k] == ' ' || v[k] == '\t'))
					k++;
				if (!digits || (k < vlen && v[k] != ','))
					return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
						      "Weird server reply: invalid Content-Length \"%.*s\"",
						      (int)(vlen > 40 ? 40 : vlen), v);
				if (have_cl && x != cl)
					return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
						      "Weird server reply: conflicting Content-Length values");
				cl = x;
				have_cl = true;
			}
		} else if (NAME_IS("Transfer-Encoding")) {
			/* Only the last coding decides (RFC 9112 §6.3 item 4). */
			const char *t;
			size_t tl;
			last_token(v, vlen, &t, &tl);
			have_te = true;
			te_chunked = tl == 7 && strncasecmp(t, "chunked", 7) == 0;
		} else if (NAME_IS("Connection")) {
			conn_close |= has_token(v, vlen, "close");
			conn_keep |= has_token(v, vlen, "keep-alive");
		} else if (NAME_IS("Location")) {
			if (vlen >= sizeof r->location)
				return seterr(err, errlen, HC_WEIRD_SERVER_REPLY,
					      "Weird server reply: Location longer than %zu bytes",
					      sizeof r->location - 1);
			memcpy(r->location, v, vlen);
			r->location[vlen] = '\0';
			r->has_location = true;
		} else if (NAME_IS("Content-Range")) {
			/* As curl: the first digit or '*' after the name ("bytes N-M/T"). */
			size_t k = 0;
			while (k < vlen && !isdigit((unsigned char)v[k]) && v[k] != '*')
				k++;
			if (k < vlen && isdigit((unsigned char)v[k])) {
				uint64_t x = 0;
				while (k < vlen && isdigit((unsigned char)v[k]) && x < UINT64_MAX / 10 - 9)
					x = x * 10 + (uint64_t)(v[k++] - '0');
				r->has_range_start = true;
				r->range_start = x;
			}
		} else if (NAME_IS("Retry-After")) {
			/* RFC 9110 10.2.3: delay-seconds or an HTTP-date. */
			int64_t x = 0;
			for (size_t k = 0; k < vlen && isdigit((unsigned char)v[k]) && x < INT32_MAX; k++)
				x = x * 10 + (v[k] - '0');
			r->retry_after = x;
			time_t when;
			if (!x && hc_parse_http_date(v, vlen, &when))
				r->retry_after_date = when;
		} else if (NAME_IS("Content-Type")) {
			size_t k = vlen < sizeof r->content_type ? vlen : sizeof r->content_type - 1;
			memcpy(r->content_type, v, k);
			r->content_type[k] = '\0';
		}
#undef NAME_IS
	}

	/* RFC 9112 §6.3, in its order. */
	if (head_request || r->status / 100 == 1 || r->status == 204 || r->status == 304)
		r->framing = HC_BODY_NONE;
	else if (have_te)
		r->framing = te_chunked ? HC_BODY_CHUNKED : HC_BODY_CLOSE;
	else if (have_cl)
		r->framing = HC_BODY_LENGTH;
	else
		r->framing = HC_BODY_CLOSE;
	r->content_length = have_cl && !have_te ? cl : 0;
	r->keep_alive = (r->minor >= 1 ? !conn_close : conn_keep && !conn_close) &&
			r->framing != HC_BODY_CLOSE;
	return HC_OK;
}

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

void hc_chunked_init(struct hc_chunked *c)
{
	memset(c, 0, sizeof *c);
	c->state = CH_SIZE;
}

/* chunk-size [ chunk-ext ] (RFC 9112 §7.1): hex digits, then ';' or whitespace. */
static int parse_chunk_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0;
	for (; i < n && isxdigit((unsigned char)s[i]); i++, digits++) {
		if (digits >= 16)
			return -1;
		int d = isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower((unsigned char)s[i]) - 'a' + 10);
		v = v << 4 | (uint64_t)d;
	}
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (!digits || (i < n && s[i] != ';'))
		return -1;
	*out = v;
	return 0;
}

long hc_chunked_feed(struct hc_chunked *c, const char *in, size_t len,
		     int (*data)(void *arg, const char *p, size_t n),
		     void (*trailer)(void *arg, const char *line, size_t n), void *arg,
		     char *err, size_t errlen)
{
	size_t i = 0;
	while (i < len && !c->done) {
		if (c->state == CH_DATA) {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			if (data(arg, in + i, n) != 0)
				return -2;
			i += n;
			c->left -= n;
			if (c->left == 0) {
				c->state = CH_DATA_END;
				c->linelen = 0;
			}
			continue;
		}
		/* The other states collect one line. */
		const char *nl = memchr(in + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (in + i)) : len - i;
		if (c->linelen + n >= sizeof c->line)
			return seterr(err, errlen, -1, "chunked encoding: a line longer than %zu bytes",
				      sizeof c->line - 1);
		memcpy(c->line + c->linelen, in + i, n);
		c->linelen += n;
		i += n;
		if (!nl)
			break;
		i++;                    /* the LF */
		size_t ll = c->linelen;
		if (ll > 0 && c->line[ll - 1] == '\r')
			ll--;
		c->linelen = 0;
		switch (c->state) {
		case CH_SIZE:
			if (parse_chunk_size(c->line, ll, &c->left) < 0)
				return seterr(err, errlen, -1, "chunked encoding: bad chunk size line \"%.*s\"",
					      (int)(ll > 40 ? 40 : ll), c->line);
			c->state = c->left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA_END:
			if (ll != 0)
				return seterr(err, errlen, -1, "chunked encoding: chunk data not followed by CRLF");
			c->state = CH_SIZE;
			break;
		case CH_TRAILER:
			if (ll == 0)
				c->done = true;
			else if (trailer)
				trailer(arg, c->line, ll);
			break;
		}
	}
	return (long)i;
}

/* ---- -w, --write-out ---------------------------------------------------- */

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s, size_t n, bool lower)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '\\': fputs("\\\\", f); break;
		case '"': fputs("\\\"", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (c < 32)
				fprintf(f, "\\u%04x", c);
			else
				fputc(lower && c >= 'A' && c <= 'Z' ? c | 0x20 : c, f);
		}
	}
	fputc('"', f);
}

/* One field line of a head: name and value (trimmed), false at the end. */
struct field_iter {
	const char *p, *end;
};

static bool next_field(struct field_iter *it, const char **name, size_t *nl, const char **val,
		       size_t *vl)
{
	while (it->p < it->end) {
		const char *nlp = memchr(it->p, '\n', (size_t)(it->end - it->p));
		const char *e = nlp ? nlp : it->end;
		const char *line = it->p;
		it->p = nlp ? nlp + 1 : it->end;
		size_t n = (size_t)(e - line);
		if (n && line[n - 1] == '\r')
			n--;
		if (n == 0)
			return false;
		const char *colon = memchr(line, ':', n);
		if (!colon || line[0] == ' ' || line[0] == '\t')
			continue;
		*name = line;
		*nl = (size_t)(colon - line);
		const char *v = colon + 1, *ve = line + n;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		*val = v;
		*vl = (size_t)(ve - v);
		return true;
	}
	return false;
}

/* The fields of a head, after its status line. */
static struct field_iter fields_of(const char *head, size_t len)
{
	const char *nl = head ? memchr(head, '\n', len) : NULL;
	struct field_iter it = { nl ? nl + 1 : head, head ? head + len : head };
	return it;
}

/* %{header_json}: every field of the last response, names in lower case, values in a list. */
static void header_json(FILE *f, const char *head, size_t len)
{
	fputc('{', f);
	struct field_iter it = fields_of(head, len);
	const char *n, *v;
	size_t nl, vl;
	bool first = true;
	while (next_field(&it, &n, &nl, &v, &vl)) {
		/* Only at a name's first appearance: the list has all its values. */
		struct field_iter before = fields_of(head, len);
		const char *n2, *v2;
		size_t nl2, vl2;
		bool seen = false;
		while (next_field(&before, &n2, &nl2, &v2, &vl2) && n2 < n)
			if (nl2 == nl && strncasecmp(n2, n, nl) == 0)
				seen = true;
		if (seen)
			continue;
		if (!first)
			fputs(",\n", f);
		first = false;
		json_string(f, n, nl, true);
		fputs(":[", f);
		json_string(f, v, vl, false);
		struct field_iter after = it;
		while (next_field(&after, &n2, &nl2, &v2, &vl2)) {
			if (nl2 == nl && strncasecmp(n2, n, nl) == 0) {
				fputc(',', f);
				json_string(f, v2, vl2, false);
			}
		}
		fputc(']', f);
	}
	fputs("\n}", f);
}

static int count_fields(const char *head, size_t len)
{
	struct field_iter it = fields_of(head, len);
	const char *n, *v;
	size_t nl, vl;
	int k = 0;
	while (next_field(&it, &n, &nl, &v, &vl))
		k++;
	return k;
}

enum wtype { W_STR, W_LONG, W_CODE, W_OFF, W_TIME, W_ZERO, W_NULL, W_EMPTY, W_VERSION,
	     W_HEADERS, W_JSON, W_HEADER_JSON, W_ONERROR, W_STDOUT, W_STDERR };

#define WV(f) offsetof(struct hc_writeout_vars, f)
/* curl 7.88's variables, in its (alphabetical) order, which %{json} keeps. */
static const struct wvar {
	const char *name;
	enum wtype t;
	size_t off;
} wvars[] = {
	{ "certs", W_EMPTY, 0 },
	{ "content_type", W_STR, WV(content_type) },
	{ "errormsg", W_STR, WV(errormsg) },
	{ "exitcode", W_LONG, WV(exitcode) },
	{ "filename_effective", W_STR, WV(filename_effective) },
	{ "ftp_entry_path", W_NULL, 0 },
	{ "header_json", W_HEADER_JSON, 0 },
	{ "http_code", W_CODE, WV(http_code) },
	{ "http_connect", W_CODE, WV(http_connect) },
	{ "http_version", W_VERSION, 0 },
	{ "json", W_JSON, 0 },
	{ "local_ip", W_STR, WV(local_ip) },
	{ "local_port", W_LONG, WV(local_port) },
	{ "method", W_STR, WV(method) },
	{ "num_certs", W_ZERO, 0 },
	{ "num_connects", W_LONG, WV(num_connects) },
	{ "num_headers", W_HEADERS, 0 },
	{ "num_redirects", W_LONG, WV(num_redirects) },
	{ "onerror", W_ONERROR, 0 },
	{ "proxy_ssl_verify_result", W_ZERO, 0 },
	{ "redirect_url", W_STR, WV(redirect_url) },
	{ "referer", W_NULL, 0 },
	{ "remote_ip", W_STR, WV(remote_ip) },
	{ "remote_port", W_LONG, WV(remote_port) },
	{ "response_code", W_CODE, WV(http_code) },
	{ "scheme", W_STR, WV(scheme) },
	{ "size_download", W_OFF, WV(size_download) },
	{ "size_header", W_OFF, WV(size_header) },
	{ "size_request", W_OFF, WV(size_request) },
	{ "size_upload", W_OFF, WV(size_upload) },
	{ "speed_download", W_OFF, WV(speed_download) },
	{ "speed_upload", W_OFF, WV(speed_upload) },
	{ "ssl_verify_result", W_ZERO, 0 },
	{ "stderr", W_STDERR, 0 },
	{ "stdout", W_STDOUT, 0 },
	{ "time_appconnect", W_TIME, WV(time_appconnect) },
	{ "time_connect", W_TIME, WV(time_connect) },
	{ "time_namelookup", W_TIME, WV(time_namelookup) },
	{ "time_pretransfer", W_TIME, WV(time_pretransfer) },
	{ "time_redirect", W_TIME, WV(time_redirect) },
	{ "time_starttransfer", W_TIME, WV(time_starttransfer) },
	{ "time_total", W_TIME, WV(time_total) },
	{ "url", W_STR, WV(url) },
	{ "url_effective", W_STR, WV(url_effective) },
	{ "urlnum", W_ZERO, 0 },
};
#undef WV

/* Write one plain variable; in JSON as "name":value (strings NULL as null). */
static void write_var(FILE *f, const struct wvar *w, const struct hc_writeout_vars *v, bool json)
{
	const char *base = (const char *)v;
	if (json)
		fprintf(f, "\"%s\":", w->name);
	switch (w->t) {
	case W_STR: {
		const char *s = *(const char *const *)(base + w->off);
		if (s && json)
			json_string(f, s, strlen(s), false);
		else if (s)
			fputs(s, f);
		else if (json)
			fputs("null", f);
		break;
	}
	case W_LONG:
		fprintf(f, "%d", *(const int *)(base + w->off));
		break;
	case W_CODE:
		fprintf(f, json ? "%d" : "%03d", *(const int *)(base + w->off));
		break;
	case W_OFF:
		fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)(base + w->off));
		break;
	case W_TIME: {
		uint64_t us = *(const uint64_t *)(base + w->off);
		fprintf(f, "%llu.%06llu", (unsigned long long)(us / 1000000),
			(unsigned long long)(us % 1000000));
		break;
	}
	case W_ZERO:
		fputc('0', f);
		break;
	case W_NULL:
		if (json)
			fputs("null", f);
		break;
	case W_EMPTY:
		if (json)
			fputs("\"\"", f);
		break;
	case W_VERSION: {
		const char *ver = v->http_minor < 0 ? "0" : v->http_minor == 0 ? "1" : "1.1";
		fprintf(f, json ? "\"%s\"" : "%s", ver);
		break;
	}
	case W_HEADERS:
		fprintf(f, "%d", count_fields(v->head, v->head_len));
		break;
	default:
		break;
	}
}

static void write_json(FILE *f, const struct hc_writeout_vars *v)
{
	fputc('{', f);
	for (size_t i = 0; i < sizeof wvars / sizeof wvars[0]; i++) {
		enum wtype t = wvars[i].t;
		if (t == W_JSON || t == W_HEADER_JSON || t == W_ONERROR || t == W_STDOUT ||
		    t == W_STDERR)
			continue;
		write_var(f, &wvars[i], v, true);
		fputc(',', f);
	}
	fputs("\"curl_version\":", f);
	json_string(f, v->version, strlen(v->version), false);
	fputc('}', f);
}

void hc_writeout(const char *fmt, const struct hc_writeout_vars *v, FILE *out, FILE *err)
{
	FILE *f = out;
	for (const char *p = fmt; *p; p++) {
		if (*p == '\\' && p[1]) {
			switch (p[1]) {
			case 'n': fputc('\n', f); break;
			case 'r': fputc('\r', f); break;
			case 't': fputc('\t', f); break;
			default: fputc('\\', f); fputc(p[1], f); break;
			}
			p++;
			continue;
		}
		if (*p != '%' || !p[1]) {
			fputc(*p, f);
			continue;
		}
		if (p[1] == '%') {
			fputc('%', f);
			p++;
			continue;
		}
		if (strncmp(p + 1, "header{", 7) == 0) {
			const char *close = strchr(p + 8, '}');
			if (!close) {
				fputs("%header{", f);
				p += 7;
				continue;
			}
			size_t hn = (size_t)(close - (p + 8));
			struct field_iter it = fields_of(v->head, v->head_len);
			const char *n, *val;
			size_t nl, vl;
			while (next_field(&it, &n, &nl, &val, &vl)) {
				if (nl == hn && strncasecmp(n, p + 8, hn) == 0) {
					fwrite(val, 1, vl, f);
					break;
				}
			}
			p = close;
			continue;
		}
		if (p[1] != '{') {
			fputc('%', f);  /* illegal: both characters as they are */
			fputc(p[1], f);
			p++;
			continue;
		}
		const char *close = strchr(p + 2, '}');
		if (!close) {
			fputs("%{", f);
			p++;
			continue;
		}
		const char *name = p + 2;
		size_t n = (size_t)(close - name);
		p = close;
		const struct wvar *w = NULL;
		for (size_t i = 0; i < sizeof wvars / sizeof wvars[0]; i++)
			if (strlen(wvars[i].name) == n && strncasecmp(wvars[i].name, name, n) == 0)
				w = &wvars[i];
		if (!w) {
			fprintf(err, "uscurl: unknown --write-out variable: '%.*s'\n", (int)n, name);
			continue;
		}
		switch (w->t) {
		case W_ONERROR:
			if (v->exitcode == 0)
				return;         /* no error: the rest is not printed */
			break;
		case W_STDOUT: f = out; break;
		case W_STDERR: f = err; break;
		case W_JSON: write_json(f, v); break;
		case W_HEADER_JSON: header_json(f, v->head, v->head_len); break;
		default: write_var(f, w, v, false); break;
		}
	}
}

/* ---- The progress meter (curl's lib/progress.c) ------------------------- */

const char hc_progress_heading[] =
	"  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
	"                                 Dload  Upload   Total   Spent    Left  Speed\n";

/* curl's max5data: a size in at most five characters. */
static void max5(uint64_t b, char out[8])
{
	const uint64_t K = 1024, M = K * K, G = M * K, T = G * K, P = T * K;
	if (b < 100000)
		snprintf(out, 8, "%5u", (unsigned)b);
	else if (b < 10000 * K)
		snprintf(out, 8, "%4uk", (unsigned)(b / K));
	else if (b < 100 * M)
		snprintf(out, 8, "%2u.%uM", (unsigned)(b / M), (unsigned)((b % M) / (M / 10)));
	else if (b < 10000 * M)
		snprintf(out, 8, "%4uM", (unsigned)(b / M));
	else if (b < 100 * G)
		snprintf(out, 8, "%2u.%uG", (unsigned)(b / G), (unsigned)((b % G) / (G / 10)));
	else if (b < 10000 * G)
		snprintf(out, 8, "%4uG", (unsigned)(b / G));
	else if (b < 10000 * T)
		snprintf(out, 8, "%4uT", (unsigned)(b / T));
	else
		snprintf(out, 8, "%4uP", (unsigned)((b / P) % 10000));
}

/* curl's time2str: "H:MM:SS" in eight characters, "--:--:--" for 0 or less. */
static void time8(int64_t s, char out[12])
{
	if (s <= 0) {
		snprintf(out, 12, "--:--:--");
		return;
	}
	int64_t h = s / 3600;
	if (h <= 99)
		snprintf(out, 12, "%2d:%02d:%02d", (int)h, (int)(s % 3600 / 60), (int)(s % 60));
	else if (s / 86400 <= 999)
		snprintf(out, 12, "%3dd %02dh", (int)(s / 86400), (int)(s % 86400 / 3600));
	else
		snprintf(out, 12, "%7dd", (int)((s / 86400) % 10000000));
}

/* curl's trspeed: bytes per second from bytes and microseconds. */
static uint64_t trspeed(uint64_t size, uint64_t us)
{
	if (us < 1)
		return size * 1000000;
	if (size < UINT64_MAX / 1000000)
		return size * 1000000 / us;
	return us >= 1000000 ? size / (us / 1000000) : UINT64_MAX;
}

void hc_meter_init(struct hc_meter *m, uint64_t start_us)
{
	memset(m, 0, sizeof *m);
	m->start_us = start_us;
}

bool hc_meter_calc(struct hc_meter *m, uint64_t now_us, uint64_t dl, uint64_t ul, bool force)
{
	m->downloaded = dl;
	m->uploaded = ul;
	m->timespent_us = now_us > m->start_us ? now_us - m->start_us : 0;
	m->dlspeed = trspeed(dl, m->timespent_us);
	m->ulspeed = trspeed(ul, m->timespent_us);
	uint64_t sec = now_us / 1000000;
	if (force)
		m->lastshow = 0;        /* curl's Curl_pgrsDone */
	if (m->lastshow == sec + 1)
		return false;
	m->lastshow = sec + 1;          /* +1: 0 means "never" */
	/* The "current speed": bytes over the last up to HC_METER_SAMPLES - 1
	 * whole seconds, one sample per second. */
	unsigned now_i = m->speeder_c % HC_METER_SAMPLES;
	m->speeder[now_i] = dl + ul;
	m->speeder_time[now_i] = now_us;
	m->speeder_c++;
	unsigned count = (m->speeder_c >= HC_METER_SAMPLES ? HC_METER_SAMPLES : m->speeder_c) - 1;
	if (count) {
		unsigned check = m->speeder_c >= HC_METER_SAMPLES ? m->speeder_c % HC_METER_SAMPLES : 0;
		uint64_t span_ms = (now_us - m->speeder_time[check]) / 1000;
		if (span_ms == 0)
			span_ms = 1;
		uint64_t amount = m->speeder[now_i] - m->speeder[check];
		m->current_speed = amount > 4294967u ? (uint64_t)((double)amount / ((double)span_ms / 1000.0))
						     : amount * 1000 / span_ms;
	} else {
		m->current_speed = m->ulspeed + m->dlspeed;
	}
	return true;
}

void hc_meter_line(const struct hc_meter *m, char *out, size_t outlen, int64_t dl_total,
		   int64_t ul_total)
{
	char tot[8], rcv[8], snt[8], dls[8], uls[8], cur[8], tt[12], ts[12], tl[12];
	uint64_t dlpct = 0, ulpct = 0, totpct = 0;
	int64_t dlest = 0, ulest = 0;
	int64_t spent = (int64_t)(m->timespent_us / 1000000);
	if (ul_total >= 0 && m->ulspeed > 0) {
		ulest = ul_total / (int64_t)m->ulspeed;
		if (ul_total > 10000)
			ulpct = m->uploaded / (uint64_t)(ul_total / 100);
		else if (ul_total > 0)
			ulpct = m->uploaded * 100 / (uint64_t)ul_total;
	}
	if (dl_total >= 0 && m->dlspeed > 0) {
		dlest = dl_total / (int64_t)m->dlspeed;
		if (dl_total > 10000)
			dlpct = m->downloaded / (uint64_t)(dl_total / 100);
		else if (dl_total > 0)
			dlpct = m->downloaded * 100 / (uint64_t)dl_total;
	}
	int64_t est = ulest > dlest ? ulest : dlest;
	time8(est > 0 ? est - spent : 0, tl);
	time8(est, tt);
	time8(spent, ts);
	uint64_t expected = (ul_total >= 0 ? (uint64_t)ul_total : m->uploaded) +
			    (dl_total >= 0 ? (uint64_t)dl_total : m->downloaded);
	uint64_t done = m->downloaded + m->uploaded;
	if (expected > 10000)
		totpct = done / (expected / 100);
	else if (expected > 0)
		totpct = done * 100 / expected;
	max5(expected, tot);
	max5(m->downloaded, rcv);
	max5(m->uploaded, snt);
	max5(m->dlspeed, dls);
	max5(m->ulspeed, uls);
	max5(m->current_speed, cur);
	snprintf(out, outlen, "%3llu %s  %3llu %s  %3llu %s  %s  %s %s %s %s %s",
		 (unsigned long long)totpct, tot, (unsigned long long)dlpct, rcv,
		 (unsigned long long)ulpct, snt, dls, uls, tt, ts, tl, cur);
}

/* ---- The progress bar, -# (curl's src/tool_cb_prg.c) --------------------- */

void hc_bar_init(struct hc_bar *b, int width, int64_t initial_size)
{
	memset(b, 0, sizeof *b);
	b->width = width > HC_BAR_MAX ? HC_BAR_MAX : width;
	b->initial_size = initial_size;
	b->tick = 150;
	b->barmove = 1;
}

/* curl's sine table: 500000 + 500000 * sin(2 pi (i + 1) / 200). */
static unsigned sinus(int i)
{
	return (unsigned)(500000.0 + 500000.0 * sin(2.0 * 3.14159265358979323846 * (i + 1) / 200.0) +
			  0.5);
}

/* The unknown-size animation: a "-=O=-" that moves with the data, and four '#'. */
static void fly(struct hc_bar *b, FILE *f, bool moved)
{
	char buf[HC_BAR_MAX + 8];
	int check = b->width - 2;
	snprintf(buf, sizeof buf, "%*s\r", b->width - 1, " ");
	memcpy(&buf[b->bar], "-=O=-", 5);
	for (int k = 0; k < 20; k += 5)
		buf[sinus((b->tick + k) % 200) / (1000000 / (unsigned)check)] = '#';
	fputs(buf, f);
	b->tick += 2;
	if (b->tick >= 200)
		b->tick -= 200;
	b->bar += moved ? b->barmove : 0;
	if (b->bar >= b->width - 6) {
		b->barmove = -1;
		b->bar = b->width - 6;
	} else if (b->bar < 0) {
		b->barmove = 1;
		b->bar = 0;
	}
}

void hc_bar_update(struct hc_bar *b, FILE *f, uint64_t now_ms, uint64_t dltotal, uint64_t dlnow,
		   uint64_t ultotal, uint64_t ulnow)
{
	uint64_t total = dltotal + ultotal + (uint64_t)b->initial_size;
	uint64_t point = dlnow + ulnow + (uint64_t)b->initial_size;
	if (b->calls) {
		if (total) {
			if (b->prev == point)
				return;
			if (now_ms - b->prevtime_ms < 100 && point < total)
				return;         /* at most 10 Hz, except at 100% */
		} else {
			if (now_ms - b->prevtime_ms < 100)
				return;
			fly(b, f, point != b->prev);
		}
	}
	b->calls++;
	if (total > 0 && point != b->prev) {
		char line[HC_BAR_MAX + 1];
		if (point > total)
			total = point;
		double frac = (double)point / (double)total;
		int barwidth = b->width - 7;
		int num = (int)((double)barwidth * frac);
		if (num > HC_BAR_MAX)
			num = HC_BAR_MAX;
		memset(line, '#', (size_t)num);
		line[num] = '\0';
		fprintf(f, "\r%-*s %5.1f%%", barwidth, line, frac * 100.0);
	}
	fflush(f);
	b->prev = point;
	b->prevtime_ms = now_ms;
}

void hc_bar_end(struct hc_bar *b, FILE *f)
{
	if (b->calls)
		fputc('\n', f);
	b->calls = 0;
}
