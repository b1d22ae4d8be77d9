/*
 * replay_script_load.c — reading usreplay's application script (see
 * replay_script.h): libyaml's document API; every event is a mapping whose
 * keys are checked against the table of its op (an unknown or missing key
 * is an error at its line and column), and every value is parsed up
 * front, so that a run never stops half-way for a typo.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "tools/common/replay_script_int.h"

/* Keys every op may carry besides its own. */
#define SOCKOPT_KEYS "nodelay", "rcvbuf", "sndbuf", "linger", "keepalive", "keepidle", \
		     "keepintvl", "keepcnt", "maxseg", "reuseaddr"

const struct opdef rp_ops[OP__COUNT] = {
	[OP_TCP_LISTEN] = { "tcp_listen", { "port", "backlog", "as", SOCKOPT_KEYS }, { "port" } },
	[OP_TCP_ACCEPT] = { "tcp_accept", { "on", "as", "expect_error" }, { "as" } },
	[OP_TCP_CONNECT] = { "tcp_connect", { "to", "as", "port", "expect_error", SOCKOPT_KEYS },
			     { "to", "as" } },
	[OP_SEND] = { "send", { "on", "data", "hex", "bytes", "expect_error" }, { "on" } },
	[OP_RECV] = { "recv", { "on", "bytes", "expect", "expect_hex", "pattern", "eof",
				"expect_error" }, { "on" } },
	[OP_SHUTDOWN] = { "shutdown", { "on", "how", "expect_error" }, { "on", "how" } },
	[OP_CLOSE] = { "close", { "on" }, { "on" } },
	[OP_SETSOCKOPT] = { "setsockopt", { "on", SOCKOPT_KEYS }, { "on" } },
	[OP_SO_ERROR] = { "so_error", { "on", "expect" }, { "on", "expect" } },
	[OP_UDP_BIND] = { "udp_bind", { "port", "as", SOCKOPT_KEYS }, { "as" } },
	[OP_UDP_SEND] = { "udp_send", { "on", "to", "data", "hex", "bytes", "expect_error" },
			  { "on", "to" } },
	[OP_UDP_RECV] = { "udp_recv", { "on", "expect", "expect_hex", "from", "expect_error" },
			  { "on" } },
	[OP_PING] = { "ping", { "to", "seq", "size", "ttl" }, { "to", "seq" } },
	[OP_PING_RECV] = { "ping_recv", { "seq", "from", "expect_error" }, { 0 } },
	[OP_RESOLVE] = { "resolve", { "name", "expect", "expect_error" }, { "name" } },
};

/* ---- errno names ----------------------------------------------------------- */

static const struct {
	const char *name;
	int value;
} errnames[] = {
	{ "EAGAIN", EAGAIN }, { "ECONNREFUSED", ECONNREFUSED }, { "ECONNRESET", ECONNRESET },
	{ "ETIMEDOUT", ETIMEDOUT }, { "EPIPE", EPIPE }, { "ENOTCONN", ENOTCONN },
	{ "EHOSTUNREACH", EHOSTUNREACH }, { "ENETUNREACH", ENETUNREACH },
	{ "EADDRINUSE", EADDRINUSE }, { "EINVAL", EINVAL }, { "EBADF", EBADF },
	{ "EISCONN", EISCONN }, { "EINPROGRESS", EINPROGRESS }, { "EALREADY", EALREADY },
	{ "EMSGSIZE", EMSGSIZE }, { "ECONNABORTED", ECONNABORTED }, { "ESHUTDOWN", ESHUTDOWN },
	{ "EAI_NONAME", EAI_NONAME }, { "EAI_AGAIN", EAI_AGAIN }, { "EAI_FAIL", EAI_FAIL },
};

const char *rp_errname(int e)
{
	for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (errnames[i].value == e && strncmp(errnames[i].name, "EAI_", 4) != 0)
			return errnames[i].name;
	return "E?";
}

/* The value of an errno name (eai: an EAI_* name, negative in glibc) into *out; -1 if unknown. */
static int errvalue(const char *s, bool eai, int *out)
{
	if (strcmp(s, "0") == 0 && !eai) {
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (strcmp(errnames[i].name, s) == 0 && (strncmp(s, "EAI_", 4) == 0) == eai) {
			*out = errnames[i].value;
			return 0;
		}
	return -1;
}

/* ---- loading --------------------------------------------------------------- */

struct loader {
	yaml_document_t doc;
	const char *path;
	char *err;
	size_t errlen;
};

static int fail_at(struct loader *L, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(L->err, L->errlen, "%s:%zu:%zu: %s", L->path, n->start_mark.line + 1,
		 n->start_mark.column + 1, msg);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int want_scalar(struct loader *L, const yaml_node_t *n, const char *key, const char **out)
{
	*out = scalar(n);
	if (!*out)
		return fail_at(L, n, "%s: expected a scalar value", key);
	return 0;
}

/* Seconds as a decimal ("1", "0.25", "1.000001") to ns, exactly. */
static int parse_seconds(const char *s, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, scale = 1000000000ull;
	const char *p = s;
	if (!*p)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 1000000000ull)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	if (*p || p == s)
		return -1;
	*ns = whole * 1000000000ull + frac;
	return 0;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (strcmp(s, "true") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_addr_port(const char *s, struct sockaddr_in *sa, bool need_port)
{
	char buf[64];
	snprintf(buf, sizeof buf, "%s", s);
	char *colon = strchr(buf, ':');
	int port = 0;
	if (colon) {
		*colon = '\0';
		if (parse_int(colon + 1, 1, 65535, &port) < 0)
			return -1;
	} else if (need_port) {
		return -1;
	}
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, buf, &sa->sin_addr) == 1 ? 0 : -1;
}

static int parse_hex(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *b = malloc(n / 2 + 1);
	if (!b)
		return -1;
	size_t k = 0;
	int hi = -1;
	for (const char *p = s; *p; p++) {
		int v;
		if (*p == ' ' || *p == ':' || *p == '\n')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else {
			free(b);
			return -1;
		}
		if (hi < 0) {
			hi = v;
		} else {
			b[k++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(b);
		return -1;
	}
	*out = b;
	*len = k;
	return 0;
}

static int parse_name(struct loader *L, const yaml_node_t *v, const char *key, char *out)
{
	const char *s;
	if (want_scalar(L, v, key, &s) < 0)
		return -1;
	size_t n = strlen(s);
	if (n == 0 || n >= NAME_MAX_LEN)
		return fail_at(L, v, "%s: expected a name of 1..%d characters", key,
			       NAME_MAX_LEN - 1);
	memcpy(out, s, n + 1);
	return 0;
}

static bool key_allowed(const struct opdef *d, const char *k)
{
	if (strcmp(k, "at") == 0 || strcmp(k, "op") == 0)
		return true;
	for (int i = 0; i < 24 && d->keys[i]; i++)
		if (strcmp(d->keys[i], k) == 0)
			return true;
	return false;
}

/* One sockopt key; 1 if k was one, 0 if not, -1 on a bad value. */
static int parse_sockopt(struct loader *L, struct event *e, const char *k, const yaml_node_t *v)
{
	static const struct {
		const char *key;
		bool boolean;
		size_t off;
	} tab[] = {
		{ "nodelay", true, offsetof(struct sockopts, nodelay) },
		{ "keepalive", true, offsetof(struct sockopts, keepalive) },
		{ "reuseaddr", true, offsetof(struct sockopts, reuseaddr) },
		{ "rcvbuf", false, offsetof(struct sockopts, rcvbuf) },
		{ "sndbuf", false, offsetof(struct sockopts, sndbuf) },
		{ "linger", false, offsetof(struct sockopts, linger) },
		{ "keepidle", false, offsetof(struct sockopts, keepidle) },
		{ "keepintvl", false, offsetof(struct sockopts, keepintvl) },
		{ "keepcnt", false, offsetof(struct sockopts, keepcnt) },
		{ "maxseg", false, offsetof(struct sockopts, maxseg) },
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
		if (strcmp(tab[i].key, k) != 0)
			continue;
		const char *s;
		if (want_scalar(L, v, k, &s) < 0)
			return -1;
		int *dst = (int *)((char *)&e->so + tab[i].off);
		if (tab[i].boolean ? parse_bool(s, dst) < 0
				   : parse_int(s, 0, 64 * 1024 * 1024, dst) < 0)
			return fail_at(L, v, "%s: expected %s, got \"%s\"", k,
				       tab[i].boolean ? "true or false" : "an integer", s);
		e->have_so = true;
		return 1;
	}
	return 0;
}

static int parse_event(struct loader *L, yaml_node_t *m, struct event *e)
{
	if (m->type != YAML_MAPPING_NODE)
		return fail_at(L, m, "expected an event mapping like {at: 1.0, op: send, ...}");
	memset(e, 0, sizeof *e);
	e->line = (int)m->start_mark.line + 1;
	e->port = -1;
	e->backlog = 5;
	e->size = 56;
	e->ttl = 64;
	e->seq = -1;
	e->how = -1;
	int *so = (int *)&e->so;
	for (size_t i = 0; i < sizeof e->so / sizeof(int); i++)
		so[i] = -1;

	/* First pass: at and op, which decide what the other keys mean. */
	yaml_node_t *opnode = NULL, *atnode = NULL;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
		const char *ks = scalar(k);
		if (!ks)
			return fail_at(L, k, "expected a scalar key");
		if (strcmp(ks, "op") == 0)
			opnode = v;
		else if (strcmp(ks, "at") == 0)
			atnode = v;
	}
	if (!atnode)
		return fail_at(L, m, "event: missing required key \"at\"");
	if (!opnode)
		return fail_at(L, m, "event: missing required key \"op\"");
	const char *s;
	if (want_scalar(L, atnode, "at", &s) < 0)
		return -1;
	if (parse_seconds(s, &e->at) < 0)
		return fail_at(L, atnode, "at: expected seconds like 0.25, got \"%s\"", s);
	if (want_scalar(L, opnode, "op", &s) < 0)
		return -1;
	int op = -1;
	for (int i = 0; i < OP__COUNT; i++)
		if (strcmp(rp_ops[i].name, s) == 0)
			op = i;
	if (op < 0) {
		char list[512] = "";
		for (int i = 0; i < OP__COUNT; i++)
			snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
				 i ? ", " : "", rp_ops[i].name);
		return fail_at(L, opnode, "op: unknown op \"%s\" (expected one of: %s)", s, list);
	}
	e->op = (enum op)op;
	const struct opdef *d = &rp_ops[op];

	int ndata = 0;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
		const char *ks = scalar(k);
		if (!key_allowed(d, ks)) {
			char list[512] = "at, op";
			for (int i = 0; i < 24 && d->keys[i]; i++)
				snprintf(list + strlen(list), sizeof list - strlen(list), ", %s",
					 d->keys[i]);
			return fail_at(L, k, "%s: unknown key \"%s\" (expected one of: %s)", d->name,
				       ks, list);
		}
		for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
			if (strcmp(scalar(yaml_document_get_node(&L->doc, q->key)), ks) == 0)
				return fail_at(L, k, "%s: duplicate key \"%s\"", d->name, ks);
		if (strcmp(ks, "at") == 0 || strcmp(ks, "op") == 0)
			continue;
		int r = parse_sockopt(L, e, ks, v);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (strcmp(ks, "as") == 0) {
			if (parse_name(L, v, ks, e->as) < 0)
				return -1;
			continue;
		}
		if (strcmp(ks, "on") == 0) {
			if (parse_name(L, v, ks, e->on) < 0)
				return -1;
			continue;
		}
		if (want_scalar(L, v, ks, &s) < 0)
			return -1;
		if (strcmp(ks, "port") == 0) {
			if (parse_int(s, e->op == OP_UDP_BIND ? 0 : 1, 65535, &e->port) < 0)
				return fail_at(L, v, "port: expected an integer 1..65535, got \"%s\"", s);
		} else if (strcmp(ks, "backlog") == 0) {
			if (parse_int(s, 0, 4096, &e->backlog) < 0)
				return fail_at(L, v, "backlog: expected an integer 0..4096, got \"%s\"",
					       s);
		} else if (strcmp(ks, "to") == 0) {
			bool need_port = e->op != OP_PING;
			if (parse_addr_port(s, &e->to, need_port) < 0)
				return fail_at(L, v, "to: expected %s, got \"%s\"",
					       need_port ? "A.B.C.D:PORT" : "A.B.C.D", s);
		} else if (strcmp(ks, "from") == 0) {
			if (parse_addr_port(s, &e->from, false) < 0)
				return fail_at(L, v, "from: expected A.B.C.D or A.B.C.D:PORT, got \"%s\"",
					       s);
			e->have_from = true;
		} else if (strcmp(ks, "data") == 0) {
			e->dlen = strlen(s);
			e->data = malloc(e->dlen + 1);
			if (!e->data)
				return fail_at(L, v, "out of memory");
			memcpy(e->data, s, e->dlen + 1);
			e->have_data = true;
			ndata++;
		} else if (strcmp(ks, "hex") == 0) {
			if (parse_hex(s, &e->data, &e->dlen) < 0)
				return fail_at(L, v, "hex: expected pairs of hex digits, got \"%s\"", s);
			e->have_data = true;
			ndata++;
		} else if (strcmp(ks, "bytes") == 0) {
			int n;
			if (parse_int(s, e->op == OP_RECV ? 1 : 0, 16 * 1024 * 1024, &n) < 0)
				return fail_at(L, v, "bytes: expected an integer, got \"%s\"", s);
			e->dlen = (size_t)n;
			if (e->op == OP_RECV) {
				e->have_bytes = true;
			} else {
				e->pattern_data = true;
				e->have_data = true;
				ndata++;
			}
		} else if (strcmp(ks, "expect") == 0 && e->op == OP_SO_ERROR) {
			if (errvalue(s, false, &e->expect_error) < 0)
				return fail_at(L, v, "expect: unknown errno name \"%s\"", s);
		} else if (strcmp(ks, "expect") == 0 && e->op == OP_RESOLVE) {
			if (inet_pton(AF_INET, s, &e->expect_addr) != 1)
				return fail_at(L, v, "expect: expected an IPv4 address, got \"%s\"", s);
			e->have_expect_addr = true;
		} else if (strcmp(ks, "expect") == 0 || strcmp(ks, "expect_hex") == 0) {
			if (e->have_expect)
				return fail_at(L, k, "give only one of expect, expect_hex");
			if (ks[6] == '_') {
				if (parse_hex(s, &e->expect, &e->elen) < 0)
					return fail_at(L, v, "expect_hex: expected hex digits, got \"%s\"",
						       s);
			} else {
				e->elen = strlen(s);
				e->expect = malloc(e->elen + 1);
				if (!e->expect)
					return fail_at(L, v, "out of memory");
				memcpy(e->expect, s, e->elen + 1);
			}
			e->have_expect = true;
		} else if (strcmp(ks, "pattern") == 0 || strcmp(ks, "eof") == 0) {
			int b;
			if (parse_bool(s, &b) < 0)
				return fail_at(L, v, "%s: expected true or false, got \"%s\"", ks, s);
			if (ks[0] == 'p')
				e->pattern = b;
			else
				e->eof = b;
		} else if (strcmp(ks, "expect_error") == 0) {
			bool eai = e->op == OP_RESOLVE;
			if (errvalue(s, eai, &e->expect_error) < 0 || e->expect_error == 0)
				return fail_at(L, v, "expect_error: unknown %s name \"%s\"",
					       eai ? "EAI_*" : "errno", s);
		} else if (strcmp(ks, "how") == 0) {
			if (strcmp(s, "rd") == 0)
				e->how = SHUT_RD;
			else if (strcmp(s, "wr") == 0)
				e->how = SHUT_WR;
			else if (strcmp(s, "rdwr") == 0)
				e->how = SHUT_RDWR;
			else
				return fail_at(L, v, "how: expected rd, wr or rdwr, got \"%s\"", s);
		} else if (strcmp(ks, "seq") == 0) {
			if (parse_int(s, 0, 65535, &e->seq) < 0)
				return fail_at(L, v, "seq: expected an integer 0..65535, got \"%s\"", s);
		} else if (strcmp(ks, "size") == 0) {
			if (parse_int(s, 0, 65507, &e->size) < 0)
				return fail_at(L, v, "size: expected an integer 0..65507, got \"%s\"", s);
		} else if (strcmp(ks, "ttl") == 0) {
			if (parse_int(s, 1, 255, &e->ttl) < 0)
				return fail_at(L, v, "ttl: expected an integer 1..255, got \"%s\"", s);
		} else if (strcmp(ks, "name") == 0) {
			if (strlen(s) == 0 || strlen(s) >= sizeof e->name)
				return fail_at(L, v, "name: expected a host name");
			snprintf(e->name, sizeof e->name, "%s", s);
		}
	}
	for (int i = 0; i < 4 && d->required[i]; i++) {
		bool found = false;
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
		     p++)
			if (strcmp(scalar(yaml_document_get_node(&L->doc, p->key)), d->required[i]) == 0)
				found = true;
		if (!found)
			return fail_at(L, m, "%s: missing required key \"%s\"", d->name,
				       d->required[i]);
	}
	if ((e->op == OP_SEND || e->op == OP_UDP_SEND) && ndata != 1)
		return fail_at(L, m, "%s: give exactly one of data, hex, bytes", d->name);
	if (e->op == OP_SETSOCKOPT && !e->have_so)
		return fail_at(L, m, "setsockopt: give at least one option (nodelay, rcvbuf, ...)");
	if (e->op == OP_RECV && !e->have_bytes && !e->eof && !e->expect_error && !e->have_expect)
		return fail_at(L, m, "recv: give bytes, expect, eof or expect_error");
	if (e->op == OP_RECV && e->have_bytes && e->have_expect && e->elen != e->dlen)
		return fail_at(L, m, "recv: bytes %zu does not match the %zu bytes of expect",
			       e->dlen, e->elen);
	if (e->op == OP_RECV && !e->have_bytes && e->have_expect) {
		e->have_bytes = true;
		e->dlen = e->elen;
	}
	if (e->op == OP_RECV && e->pattern && !e->have_bytes)
		return fail_at(L, m, "recv: pattern needs bytes");
	return 0;
}

struct rp_script *rp_script_load(const char *path, char *err, size_t errlen)
{
	struct rp_script *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	snprintf(s->path, sizeof s->path, "%s", path);
	s->settle = -1;
	s->last_listener = -1;
	s->ping_h = -1;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(s);
		return NULL;
	}
	struct loader L = { .path = path, .err = err, .errlen = errlen };
	yaml_parser_t parser;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	if (!yaml_parser_load(&parser, &L.doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: YAML error: %s", path, parser.problem_mark.line + 1,
			 parser.problem_mark.column + 1,
			 parser.problem ? parser.problem : "cannot parse");
		yaml_parser_delete(&parser);
		fclose(f);
		free(s);
		return NULL;
	}
	yaml_parser_delete(&parser);
	fclose(f);

	int rc = 0;
	yaml_node_t *root = yaml_document_get_root_node(&L.doc);
	yaml_node_t *list = root;
	if (root && root->type == YAML_MAPPING_NODE) {
		list = NULL;
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     p < root->data.mapping.pairs.top && rc == 0; p++) {
			yaml_node_t *k = yaml_document_get_node(&L.doc, p->key);
			yaml_node_t *v = yaml_document_get_node(&L.doc, p->value);
			const char *ks = scalar(k), *vs;
			if (ks && strcmp(ks, "events") == 0) {
				list = v;
			} else if (ks && strcmp(ks, "settle") == 0) {
				uint64_t ns;
				if ((rc = want_scalar(&L, v, "settle", &vs)) == 0 &&
				    parse_seconds(vs, &ns) < 0)
					rc = fail_at(&L, v, "settle: expected seconds, got \"%s\"", vs);
				s->settle = (int64_t)ns;
			} else {
				rc = fail_at(&L, k, "unknown key \"%s\" (expected one of: settle, events)",
					     ks ? ks : "?");
			}
		}
		if (list && list->type == YAML_SCALAR_NODE && list->data.scalar.length == 0)
			list = NULL;
	} else if (root && root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0) {
		list = NULL;     /* "~" or an empty value */
	}
	if (rc == 0 && list && list->type != YAML_SEQUENCE_NODE)
		rc = fail_at(&L, list, "expected a list of events (or {settle: SECS, events: [...]})");
	if (rc == 0 && list) {
		size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
		s->ev = calloc(n ? n : 1, sizeof *s->ev);
		if (!s->ev) {
			snprintf(err, errlen, "%s: out of memory", path);
			rc = -1;
		}
		for (size_t i = 0; i < n && rc == 0; i++) {
			yaml_node_t *m = yaml_document_get_node(&L.doc,
								list->data.sequence.items.start[i]);
			rc = parse_event(&L, m, &s->ev[i]);
			s->nev = i + 1;
			if (rc == 0 && i > 0 && s->ev[i].at < s->ev[i - 1].at)
				rc = fail_at(&L, m, "at: events must be in time order (%s comes before "
					     "the previous event)", "this");
		}
	}
	yaml_document_delete(&L.doc);
	if (rc < 0) {
		rp_script_free(s, NULL);
		return NULL;
	}
	return s;
}

size_t rp_script_count(const struct rp_script *s)
{
	return s->nev;
}

uint64_t rp_script_at(const struct rp_script *s, size_t i)
{
	return s->ev[i].at;
}

int64_t rp_script_settle(const struct rp_script *s)
{
	return s->settle;
}

int rp_script_errors(const struct rp_script *s)
{
	return s->errors;
}

