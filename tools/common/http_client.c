/*
 * http_client.c — URL, request and response heads, chunked coding and
 * curl's output formats for uscurl (see http_client.h). Pure functions over caller
 * buffers: no sockets, no allocation, no clock.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
	snprintf(out, outlen, "http://%s%s", hp, u->target);
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

long hc_request_head(const struct hc_request *rq, char *out, size_t outlen)
{
	struct app a = { out, 0, outlen, outlen == 0 };
	char hp[HC_HOST_MAX + 8];
	hc_url_hostport(rq->url, hp, sizeof hp);
	app_str(&a, rq->method);
	app_str(&a, " ");
	app_str(&a, rq->url->target);
	app_str(&a, " HTTP/1.1\r\n");
	if (!user_sets(rq, "Host")) {
		app_str(&a, "Host: ");
		app_str(&a, hp);
		app_str(&a, "\r\n");
	}
	if (rq->credentials && !rq->other_host && !user_sets(rq, "Authorization")) {
		char b64[1024];
		if (hc_base64(rq->credentials, strlen(rq->credentials), b64, sizeof b64) < 0)
			return -1;
		app_str(&a, "Authorization: Basic ");
		app_str(&a, b64);
		app_str(&a, "\r\n");
	}
	if (!user_sets(rq, "User-Agent")) {
		app_str(&a, "User-Agent: ");
		app_str(&a, rq->user_agent);
		app_str(&a, "\r\n");
	}
	if (!user_sets(rq, "Accept"))
		app_str(&a, "Accept: */*\r\n");
	for (int i = 0; i < rq->nheaders; i++) {
		const char *h = rq->headers[i];
		size_t nl = header_name_len(h);
		if (rq->other_host && (header_named(h, "Authorization") || header_named(h, "Cookie")))
			continue;
		if (h[nl] == ';') {
			app_add(&a, h, nl);
			app_str(&a, ":\r\n");
			continue;
		}
		const char *v = h + nl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!*v)
			continue;
		app_str(&a, h);
		app_str(&a, "\r\n");
	}
	if (rq->with_body) {
		if (!user_sets(rq, "Content-Length")) {
			char cl[48];
			snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", rq->body_len);
			app_str(&a, cl);
		}
		if (!user_sets(rq, "Content-Type"))
			app_str(&a, "Content-Type: application/x-www-form-urlencoded\r\n");
	}
	app_str(&a, "\r\n");
	return a.full ? -1 : (long)a.len;
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

static void put_str(FILE *f, const char *s)
{
	fputs(s ? s : "", f);
}

void hc_writeout(FILE *f, const char *fmt, const struct hc_writeout_vars *v)
{
	for (const char *p = fmt; *p; p++) {
		if (*p == '\\' && p[1]) {
			switch (p[1]) {
			case 'n': fputc('\n', f); p++; continue;
			case 'r': fputc('\r', f); p++; continue;
			case 't': fputc('\t', f); p++; continue;
			case '\\': fputc('\\', f); p++; continue;
			default: fputc('\\', f); continue;
			}
		}
		if (*p != '%') {
			fputc(*p, f);
			continue;
		}
		if (p[1] == '%') {
			fputc('%', f);
			p++;
			continue;
		}
		const char *close = p[1] == '{' ? strchr(p + 2, '}') : NULL;
		if (!close) {
			fputc('%', f);
			continue;
		}
		char name[64];
		size_t n = (size_t)(close - (p + 2));
		if (n >= sizeof name)
			n = sizeof name - 1;
		memcpy(name, p + 2, n);
		name[n] = '\0';
		p = close;
#define IS(s) (strcmp(name, s) == 0)
		if (IS("http_code") || IS("response_code"))
			fprintf(f, "%03d", v->http_code);
		else if (IS("size_download"))
			fprintf(f, "%llu", (unsigned long long)v->size_download);
		else if (IS("size_header"))
			fprintf(f, "%llu", (unsigned long long)v->size_header);
		else if (IS("size_request"))
			fprintf(f, "%llu", (unsigned long long)v->size_request);
		else if (IS("size_upload"))
			fprintf(f, "%llu", (unsigned long long)v->size_upload);
		else if (IS("time_namelookup"))
			fprintf(f, "%.6f", v->time_namelookup);
		else if (IS("time_connect"))
			fprintf(f, "%.6f", v->time_connect);
		else if (IS("time_starttransfer"))
			fprintf(f, "%.6f", v->time_starttransfer);
		else if (IS("time_redirect"))
			fprintf(f, "%.6f", v->time_redirect);
		else if (IS("time_total"))
			fprintf(f, "%.6f", v->time_total);
		else if (IS("speed_download"))
			fprintf(f, "%.0f", v->speed_download);
		else if (IS("speed_upload"))
			fprintf(f, "%.0f", v->speed_upload);
		else if (IS("num_redirects"))
			fprintf(f, "%d", v->num_redirects);
		else if (IS("exitcode"))
			fprintf(f, "%d", v->exitcode);
		else if (IS("remote_port"))
			fprintf(f, "%d", v->remote_port);
		else if (IS("local_port"))
			fprintf(f, "%d", v->local_port);
		else if (IS("url_effective"))
			put_str(f, v->url_effective);
		else if (IS("redirect_url"))
			put_str(f, v->redirect_url);
		else if (IS("content_type"))
			put_str(f, v->content_type);
		else if (IS("remote_ip"))
			put_str(f, v->remote_ip);
		else if (IS("local_ip"))
			put_str(f, v->local_ip);
		else if (IS("method"))
			put_str(f, v->method);
		else if (IS("errormsg"))
			put_str(f, v->errormsg);
		else if (IS("scheme"))
			fputs("http", f);
		else
			fprintf(stderr, "uscurl: unknown --write-out variable: '%s'\n", name);
#undef IS
	}
}

const char hc_progress_heading[] =
	"  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
	"                                 Dload  Upload   Total   Spent    Left  Speed\n";

/* curl's max5data: a size in at most five characters. */
static void max5(uint64_t b, char out[8])
{
	const uint64_t K = 1024, M = K * K, G = M * K, T = G * K;
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
	else
		snprintf(out, 8, "%4uT", (unsigned)((b / T) % 10000));
}

/* curl's time2str: "H:MM:SS" in eight characters, "--:--:--" if unknown. */
static void time8(uint64_t s, bool known, char out[12])
{
	if (!known || s == 0) {
		snprintf(out, 12, "--:--:--");
		return;
	}
	uint64_t h = s / 3600;
	if (h <= 99)
		snprintf(out, 12, "%2u:%02u:%02u", (unsigned)h, (unsigned)(s % 3600 / 60),
			 (unsigned)(s % 60));
	else if (s / 86400 <= 999)
		snprintf(out, 12, "%3ud %02uh", (unsigned)(s / 86400), (unsigned)(s % 86400 / 3600));
	else
		snprintf(out, 12, "%7ud", (unsigned)((s / 86400) % 10000000));
}

void hc_progress_line(char *out, size_t outlen, uint64_t total, uint64_t got, uint64_t sent,
		      double elapsed_s, double current_bps)
{
	char tot[8], rcv[8], snt[8], dls[8], uls[8], cur[8];
	char tt[12], ts[12], tl[12];
	double avg = elapsed_s > 0 ? (double)got / elapsed_s : 0;
	unsigned pct = total ? (unsigned)(got >= total ? 100 : got * 100 / total) : 0;
	max5(total, tot);
	max5(got, rcv);
	max5(sent, snt);
	max5((uint64_t)avg, dls);
	max5(elapsed_s > 0 ? (uint64_t)((double)sent / elapsed_s) : 0, uls);
	max5((uint64_t)current_bps, cur);
	bool est = total && avg >= 1;
	time8(est ? (uint64_t)((double)total / avg) : 0, est, tt);
	time8((uint64_t)elapsed_s, true, ts);
	time8(est && total > got ? (uint64_t)((double)(total - got) / avg) : 0, est && total > got, tl);
	snprintf(out, outlen, "%3u %s  %3u %s  %3u %s  %s  %s %s %s %s %s", pct, tot, pct, rcv, 0u,
		 snt, dls, uls, tt, ts, tl, cur);
}
