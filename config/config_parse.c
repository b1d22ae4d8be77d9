/*
 * config_parse.c — YAML text to a validated struct us_config.
 *
 * Two passes over the text. First, libyaml's event parser builds a small
 * tree of nodes (scalar, sequence, mapping), each holding the 1-based line
 * and column where it starts (libyaml's marks are 0-based; columns count
 * characters). Anchors, aliases, tags, a second document and nesting deeper
 * than CY_MAX_DEPTH are refused while building, so the tree is small, finite
 * and exactly what was written. Second, a table-driven walker checks the
 * tree against the schema: every mapping level has a table of struct ck_key
 * (name, type, where the value goes in the struct, range) and the walker
 * reports unknown, duplicate and missing keys, wrong types and bad values
 * with the position of the offending node. Last, us_config_validate() does
 * the cross-field checks (config.c).
 *
 * Adding a section (say udp: {...}) means: fields in struct us_config
 * with defaults in us_config_init(), a key table and a ck_map below, one
 * line in top_keys, checks in us_config_validate(), a few lines in
 * config_dump.c, and its paragraph in doc/CONFIG.md. Sequences of mappings
 * (services: [...]) use CK_LIST with a map; sequences of scalars
 * (nameservers.addresses) use CK_LIST with an element function; mappings
 * with free-form keys (hosts: {name: addr}) get a CK_FN like parse_hosts().
 *
 * The first error stops the parse. Every message has the form
 * "NAME:LINE:COLUMN: message". No global state: loads may run in parallel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config/config_internal.h"

/* Our schema nests 4 deep (arp: static: - {mac: ...}); leave room to grow. */
#define CY_MAX_DEPTH  16
#define CY_MAX_NODES  100000
/* Longest key table (the seen-key record is an array of this size). */
#define CK_MAX_KEYS   32
/* A value quoted in a message is cut to about this many bytes. */
#define CY_QUOTE_MAX  48

_Static_assert(sizeof(enum us_backend_kind) == sizeof(int) &&
	       sizeof(enum us_log_level) == sizeof(int) &&
	       sizeof(enum us_service_type) == sizeof(int),
	       "CK_ENUM stores enums through an int");

/* ---- the node tree ------------------------------------------------------ */

enum cy_kind { CY_SCALAR, CY_SEQ, CY_MAP };

struct cy_mark {
	int line, col;                /* 1-based */
};

struct cy_node {
	enum cy_kind kind;
	struct cy_mark mark;          /* where the node starts */
	bool null;                    /* plain "", "~", "null", "Null" or "NULL" */
	char *str;                    /* scalar text, NUL-terminated (may hold NULs) */
	size_t len;
	struct cy_node **kids;        /* sequence: items; mapping: key, value, key, ... */
	size_t nkids, cap;
};

/* The state of one load. */
struct cp {
	const char *name;             /* for messages */
	char *err;
	size_t errlen;
	const unsigned char *buf;     /* the whole input */
	size_t len;
	size_t nnodes;
	struct us_config *cfg;
};

static int cp_err(struct cp *p, struct cy_mark m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int cp_err(struct cp *p, struct cy_mark m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_verrf(p->err, p->errlen, p->name, m.line, m.col, fmt, ap);
	va_end(ap);
	errno = EINVAL;
	return -1;
}

static struct cy_mark cy_mark(yaml_mark_t m)
{
	return (struct cy_mark){ (int)m.line + 1, (int)m.column + 1 };
}

/* The position of a byte offset into the input (libyaml's reader errors give offsets). */
static struct cy_mark cy_offset_mark(const struct cp *p, size_t off)
{
	struct cy_mark m = { 1, 1 };
	if (off > p->len)
		off = p->len;
	for (size_t i = 0; i < off; i++) {
		unsigned char c = p->buf[i];
		if (c == '\n' || (c == '\r' && (i + 1 >= p->len || p->buf[i + 1] != '\n'))) {
			m.line++;
			m.col = 1;
		} else if ((c & 0xc0) != 0x80 && c != '\r') {
			m.col++;  /* count characters, not UTF-8 continuation bytes */
		}
	}
	return m;
}

static int cy_yaml_err(struct cp *p, const yaml_parser_t *yp)
{
	const char *problem = yp->problem ? yp->problem : "unknown error";
	struct cy_mark m;

	switch (yp->error) {
	case YAML_MEMORY_ERROR:
		return cp_err(p, (struct cy_mark){ 1, 1 }, "out of memory while reading YAML");
	case YAML_READER_ERROR:
		m = cy_offset_mark(p, yp->problem_offset);
		if (yp->problem_value != -1)
			return cp_err(p, m, "YAML reader error: %s (#x%X)", problem,
				      (unsigned)yp->problem_value);
		return cp_err(p, m, "YAML reader error: %s", problem);
	default:
		m = cy_mark(yp->problem_mark);
		if (yp->context) {
			struct cy_mark c = cy_mark(yp->context_mark);
			return cp_err(p, m, "YAML syntax error: %s (%s at %d:%d)", problem,
				      yp->context, c.line, c.col);
		}
		return cp_err(p, m, "YAML syntax error: %s", problem);
	}
}

static void cy_free(struct cy_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		cy_free(n->kids[i]);  /* depth is at most CY_MAX_DEPTH */
	free(n->kids);
	free(n->str);
	free(n);
}

static int cy_add(struct cy_node *parent, struct cy_node *kid)
{
	if (parent->nkids == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		struct cy_node **k = realloc(parent->kids, cap * sizeof *k);
		if (!k)
			return -1;
		parent->kids = k;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = kid;
	return 0;
}

static bool cy_is_null(const yaml_event_t *ev)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp((const char *)ev->data.scalar.value, nulls[i]) == 0)
			return true;
	return false;
}

/* Handle one node event: refuse what we do not support, make and attach the node. */
static int cy_node_event(struct cp *p, const yaml_event_t *ev, struct cy_node **stack, int *depth,
			 struct cy_node **rootp)
{
	const yaml_char_t *anchor, *tag;
	enum cy_kind kind;
	struct cy_mark m = cy_mark(ev->start_mark);

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		kind = CY_SCALAR;
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		kind = CY_SEQ;
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	default:
		kind = CY_MAP;
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	}
	if (anchor)
		return cp_err(p, m, "YAML anchors (&%.40s) are not supported", (const char *)anchor);
	if (tag)
		return cp_err(p, m, "YAML tags (%.40s) are not supported", (const char *)tag);
	if (kind != CY_SCALAR && *depth == CY_MAX_DEPTH)
		return cp_err(p, m, "YAML nested deeper than %d levels", CY_MAX_DEPTH);
	if (++p->nnodes > CY_MAX_NODES)
		return cp_err(p, m, "more than %d YAML nodes", CY_MAX_NODES);

	struct cy_node *n = calloc(1, sizeof *n);
	if (!n)
		return cp_err(p, m, "out of memory");
	n->kind = kind;
	n->mark = m;
	if (kind == CY_SCALAR) {
		n->len = ev->data.scalar.length;
		n->str = malloc(n->len + 1);
		if (!n->str) {
			free(n);
			return cp_err(p, m, "out of memory");
		}
		memcpy(n->str, ev->data.scalar.value, n->len);
		n->str[n->len] = '\0';
		n->null = cy_is_null(ev);
	}
	if (*depth == 0) {
		*rootp = n;
	} else if (cy_add(stack[*depth - 1], n)) {
		cy_free(n);
		return cp_err(p, m, "out of memory");
	}
	if (kind != CY_SCALAR)
		stack[(*depth)++] = n;
	return 0;
}

/* Parse the whole input into a tree; *rootp stays NULL for an empty stream. */
static int cy_build(struct cp *p, struct cy_node **rootp)
{
	yaml_parser_t yp;
	struct cy_node *stack[CY_MAX_DEPTH];
	int depth = 0, ndocs = 0, rc = 0;
	bool done = false;

	*rootp = NULL;
	if (!yaml_parser_initialize(&yp))
		return cp_err(p, (struct cy_mark){ 1, 1 }, "out of memory");
	yaml_parser_set_input_string(&yp, p->buf, p->len);
	while (!done && rc == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&yp, &ev)) {
			rc = cy_yaml_err(p, &yp);
			break;
		}
		switch (ev.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (ndocs > 0)
				rc = cp_err(p, cy_mark(ev.start_mark),
					    "more than one YAML document (only one is allowed)");
			break;
		case YAML_DOCUMENT_END_EVENT:
			ndocs++;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_ALIAS_EVENT:
			rc = cp_err(p, cy_mark(ev.start_mark), "YAML aliases (*%.40s) are not supported",
				    (const char *)ev.data.alias.anchor);
			break;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			rc = cy_node_event(p, &ev, stack, &depth, rootp);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	return rc;
}

/* ---- describing values in messages -------------------------------------- */

/* s quoted, with non-printable and non-ASCII bytes as \xNN, cut to CY_QUOTE_MAX. */
static const char *cy_quote(const char *s, size_t len, char buf[CY_QUOTE_MAX + 8])
{
	size_t o = 0;
	buf[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char t[8];
		int tl;
		if (c == '"' || c == '\\')
			tl = snprintf(t, sizeof t, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			tl = snprintf(t, sizeof t, "\\x%02x", c);
		else
			tl = snprintf(t, sizeof t, "%c", c);
		if (o + (size_t)tl > CY_QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, t, (size_t)tl);
		o += (size_t)tl;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* What a node is, for "expected X, got Y". */
static const char *cy_got(const struct cy_node *n, char buf[CY_QUOTE_MAX + 8])
{
	if (n->kind == CY_MAP)
		return "a mapping";
	if (n->kind == CY_SEQ)
		return "a sequence";
	if (n->null)
		return "null";
	return cy_quote(n->str, n->len, buf);
}

static int ck_expect(struct cp *p, const char *what, const char *desc, const struct cy_node *v)
{
	char q[CY_QUOTE_MAX + 8];
	return cp_err(p, v->mark, "%s: expected %s, got %s", what, desc, cy_got(v, q));
}

/* ---- the table-driven walker -------------------------------------------- */

enum ck_type {
	CK_U32,       /* uint32_t, min..max */
	CK_U64,       /* uint64_t, min..max */
	CK_PROB,      /* double 0..1 */
	CK_BOOL,      /* bool: true | false */
	CK_STRING,    /* char[size], non-empty, no control characters */
	CK_ENUM,      /* an enum (int-sized): index of the value in names[] */
	CK_MAP,       /* a nested mapping, parsed with map into the field */
	CK_LIST,      /* a sequence into an array: of mappings (map) or scalars (fn) */
	CK_FN,        /* anything else: fn parses the value */
};

struct ck_key;
struct ck_map;

/* Which keys a mapping had: indexed like its table, NULLs for absent keys. */
struct ck_found {
	const struct cy_node *key, *val;
};

/*
 * A value parser. field is obj + k->off (for a CK_LIST of scalars: the
 * element to fill); obj is the struct holding the key.
 */
typedef int (*ck_fn)(struct cp *p, const struct ck_key *k, const struct cy_node *v,
		     void *field, void *obj);

struct ck_key {
	const char *name;
	enum ck_type type;
	bool required;
	size_t off;                   /* of the field in the struct being filled */
	uint64_t min, max;            /* CK_U32, CK_U64 (and CK_FN that use ck_uint) */
	size_t size;                  /* CK_STRING: buffer size, with the NUL */
	const char *const *names;     /* CK_ENUM: NULL-terminated */
	const struct ck_map *map;     /* CK_MAP; CK_LIST of mappings */
	const char *what;             /* CK_LIST of mappings: an element, in messages */
	size_t elem_size;             /* CK_LIST: one element */
	size_t count_off;             /* CK_LIST: offset of the int count */
	int max_count;                /* CK_LIST */
	ck_fn fn;                     /* CK_FN; CK_LIST of scalars: one element */
};

struct ck_map {
	const struct ck_key *keys;
	size_t nkeys;
	void (*init)(void *obj);      /* CK_LIST elements: defaults before parsing */
	/* Checks that need several keys of this mapping; node is the mapping. */
	int (*post)(struct cp *p, const struct ck_map *m, const char *ctx,
		    const struct cy_node *node, const struct ck_found *found, void *obj);
};

#define CK_MAP_OF(keys, init, post) { keys, sizeof keys / sizeof keys[0], init, post }

static int ck_parse_map(struct cp *p, const char *ctx, const struct ck_map *m,
			const struct cy_node *node, void *obj);

/* The key and value nodes of name in found (both NULL if absent). */
static struct ck_found ck_get(const struct ck_map *m, const struct ck_found *found,
			      const char *name)
{
	for (size_t i = 0; i < m->nkeys; i++)
		if (strcmp(m->keys[i].name, name) == 0)
			return found[i];
	return (struct ck_found){ NULL, NULL };
}

/* The text of a non-null scalar without NULs, or NULL after reporting "expected desc". */
static const char *ck_text(struct cp *p, const char *what, const char *desc,
			   const struct cy_node *v)
{
	if (v->kind != CY_SCALAR || v->null || memchr(v->str, '\0', v->len)) {
		ck_expect(p, what, desc, v);
		return NULL;
	}
	return v->str;
}

static int ck_uint(struct cp *p, const struct ck_key *k, const struct cy_node *v, uint64_t *out)
{
	char desc[64];
	snprintf(desc, sizeof desc, "an integer %llu..%llu", (unsigned long long)k->min,
		 (unsigned long long)k->max);
	const char *s = ck_text(p, k->name, desc, v);
	if (!s)
		return -1;
	if (!cfg_parse_u64(s, out) || *out < k->min || *out > k->max)
		return ck_expect(p, k->name, desc, v);
	return 0;
}

static void ck_join(const char *const *names, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; names[i] && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", names[i]);
}

static int ck_enum(struct cp *p, const struct ck_key *k, const struct cy_node *v, int *out)
{
	char list[256], desc[280], q[CY_QUOTE_MAX + 8];
	ck_join(k->names, list, sizeof list);
	snprintf(desc, sizeof desc, "one of: %s", list);
	const char *s = ck_text(p, k->name, desc, v);
	if (!s)
		return -1;
	for (int i = 0; k->names[i]; i++)
		if (strcmp(s, k->names[i]) == 0) {
			*out = i;
			return 0;
		}
	return cp_err(p, v->mark, "%s: unknown %s %s (expected one of: %s)", k->name, k->name,
		      cy_quote(v->str, v->len, q), list);
}

static int ck_string(struct cp *p, const struct ck_key *k, const struct cy_node *v, char *out)
{
	const char *s = ck_text(p, k->name, "a non-empty string", v);
	if (!s)
		return -1;
	if (v->len == 0)
		return ck_expect(p, k->name, "a non-empty string", v);
	if (v->len >= k->size)
		return cp_err(p, v->mark, "%s: longer than %zu bytes", k->name, k->size - 1);
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return cp_err(p, v->mark, "%s: control characters are not allowed",
				      k->name);
	memcpy(out, s, v->len + 1);
	return 0;
}

static int ck_list(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *obj)
{
	if (v->kind == CY_SCALAR && v->null)
		return 0;  /* "key:" with nothing is an empty list */
	if (v->kind != CY_SEQ)
		return ck_expect(p, k->name, "a sequence", v);
	int *count = (int *)((char *)obj + k->count_off);
	char *base = (char *)obj + k->off;
	for (size_t i = 0; i < v->nkids; i++) {
		const struct cy_node *item = v->kids[i];
		if (*count >= k->max_count)
			return cp_err(p, item->mark, "%s: too many entries (at most %d)", k->name,
				      k->max_count);
		void *elem = base + (size_t)*count * k->elem_size;
		memset(elem, 0, k->elem_size);
		int r;
		if (k->map) {
			if (k->map->init)
				k->map->init(elem);
			r = ck_parse_map(p, k->what, k->map, item, elem);
		} else {
			r = k->fn(p, k, item, elem, obj);
		}
		if (r)
			return -1;
		(*count)++;
	}
	return 0;
}

static int ck_value(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *obj)
{
	void *field = (char *)obj + k->off;
	uint64_t u;
	const char *s;

	switch (k->type) {
	case CK_U32:
		if (ck_uint(p, k, v, &u))
			return -1;
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case CK_U64:
		if (ck_uint(p, k, v, &u))
			return -1;
		*(uint64_t *)field = u;
		return 0;
	case CK_PROB:
		if (!(s = ck_text(p, k->name, "a number 0..1", v)))
			return -1;
		if (!cfg_parse_prob(s, (double *)field))
			return ck_expect(p, k->name, "a number 0..1", v);
		return 0;
	case CK_BOOL:
		if (!(s = ck_text(p, k->name, "true or false", v)))
			return -1;
		if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0)
			return ck_expect(p, k->name, "true or false", v);
		*(bool *)field = s[0] == 't';
		return 0;
	case CK_STRING:
		return ck_string(p, k, v, field);
	case CK_ENUM:
		return ck_enum(p, k, v, field);
	case CK_MAP:
		return ck_parse_map(p, k->name, k->map, v, field);
	case CK_LIST:
		return ck_list(p, k, v, obj);
	case CK_FN:
		return k->fn(p, k, v, field, obj);
	}
	return cp_err(p, v->mark, "internal error: key %s has no type", k->name);
}

/*
 * Parse node as a mapping described by m into obj. ctx names the mapping in
 * messages ("interface \"eth0\"", "route", "arp"). A null node (the key had
 * no value) counts as an empty mapping.
 */
static const char *ck_hint(const struct ck_map *m, const char *key, size_t len);

static int ck_parse_map(struct cp *p, const char *ctx, const struct ck_map *m,
			const struct cy_node *node, void *obj)
{
	struct ck_found found[CK_MAX_KEYS];
	char q[CY_QUOTE_MAX + 8];

	if (m->nkeys > CK_MAX_KEYS)
		return cp_err(p, node->mark, "internal error: %s has more than %d keys", ctx,
			      CK_MAX_KEYS);
	memset(found, 0, sizeof found);
	if (node->kind == CY_MAP) {
		for (size_t i = 0; i + 1 < node->nkids; i += 2) {
			const struct cy_node *kn = node->kids[i], *vn = node->kids[i + 1];
			if (kn->kind != CY_SCALAR)
				return ck_expect(p, ctx, "a key name", kn);
			size_t j = 0;
			while (j < m->nkeys && !(strlen(m->keys[j].name) == kn->len &&
						 memcmp(m->keys[j].name, kn->str, kn->len) == 0))
				j++;
			if (j == m->nkeys) {
				const char *hint = ck_hint(m, kn->str, kn->len);
				if (hint)
					return cp_err(p, kn->mark, "%s: unknown key %s: %s", ctx,
						      cy_quote(kn->str, kn->len, q), hint);
				char list[256];
				size_t o = 0;
				list[0] = '\0';
				for (size_t t = 0; t < m->nkeys && o < sizeof list; t++)
					o += (size_t)snprintf(list + o, sizeof list - o, "%s%s",
							      t ? ", " : "", m->keys[t].name);
				return cp_err(p, kn->mark, "%s: unknown key %s (expected one of: %s)",
					      ctx, cy_quote(kn->str, kn->len, q), list);
			}
			if (found[j].key)
				return cp_err(p, kn->mark, "%s: duplicate key \"%s\" (first at %d:%d)",
					      ctx, m->keys[j].name, found[j].key->mark.line,
					      found[j].key->mark.col);
			found[j].key = kn;
			found[j].val = vn;
			if (ck_value(p, &m->keys[j], vn, obj))
				return -1;
		}
	} else if (!(node->kind == CY_SCALAR && node->null)) {
		return ck_expect(p, ctx, "a mapping", node);
	}
	for (size_t j = 0; j < m->nkeys; j++)
		if (m->keys[j].required && !found[j].key)
			return cp_err(p, node->mark, "%s: missing required key \"%s\"", ctx,
				      m->keys[j].name);
	return m->post ? m->post(p, m, ctx, node, found, obj) : 0;
}

/* ---- value parsers for CK_FN and CK_LIST -------------------------------- */

/* A usable unicast IPv4 address; what names it in messages. */
static int ck_host(struct cp *p, const char *what, const struct cy_node *v, struct in_addr *out)
{
	static const char desc[] = "an IPv4 address like 10.0.0.1";
	struct in_addr a;
	const char *s = ck_text(p, what, desc, v), *why;
	if (!s)
		return -1;
	if (!cfg_parse_ipv4(s, &a))
		return ck_expect(p, what, desc, v);
	if ((why = cfg_check_host(a)))
		return cp_err(p, v->mark, "%s: %s %s", what, s, why);
	*out = a;
	return 0;
}

/* A usable unicast IPv4 address into a struct in_addr. */
static int fn_host(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		   void *obj)
{
	return ck_host(p, k->name, v, field);
}

/*
 * A DNS name (cfg_check_dns_name) into char[US_HOSTNAME_MAX]; what and
 * desc as for ck_text. Problems with the name itself are "WHAT: "NAME" why".
 */
static int ck_dns_name(struct cp *p, const char *what, const char *desc, const struct cy_node *v,
		       char *out)
{
	char q[CY_QUOTE_MAX + 8];
	const char *s = ck_text(p, what, desc, v), *why;
	if (!s)
		return -1;
	if ((why = cfg_check_dns_name(s)))  /* also refuses what does not fit out */
		return cp_err(p, v->mark, "%s: %s %s", what, cy_quote(v->str, v->len, q), why);
	memcpy(out, s, v->len + 1);
	return 0;
}

static int ck_mac(struct cp *p, const struct ck_key *k, const struct cy_node *v, uint8_t mac[6])
{
	static const char desc[] = "a MAC address like 02:00:00:00:00:01";
	const char *s = ck_text(p, k->name, desc, v), *why;
	if (!s)
		return -1;
	if (!cfg_parse_mac(s, mac))
		return ck_expect(p, k->name, desc, v);
	if ((why = cfg_check_mac(mac)))
		return cp_err(p, v->mark, "%s: %s %s", k->name, s, why);
	return 0;
}

/* A unicast MAC into uint8_t[6]. */
static int fn_mac(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		  void *obj)
{
	return ck_mac(p, k, v, field);
}

static int fn_iface_mac(struct cp *p, const struct ck_key *k, const struct cy_node *v,
			void *field, void *obj)
{
	struct us_iface_config *ifc = obj;
	if (ck_mac(p, k, v, ifc->mac))
		return -1;
	ifc->mac_set = true;
	return 0;
}

static int fn_seed(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		   void *obj)
{
	struct us_config *cfg = obj;
	if (ck_uint(p, k, v, &cfg->seed))
		return -1;
	cfg->seed_set = true;
	return 0;
}

/*
 * s did not parse as ADDRESS/PREFIX: if only the prefix length is wrong
 * (a number above 32), say so; otherwise the generic "expected ...".
 */
static int ck_cidr_err(struct cp *p, const char *what, const char *desc, const struct cy_node *v,
		       const char *s)
{
	const char *slash = strchr(s, '/');
	char addr[INET_ADDRSTRLEN];
	struct in_addr a;
	uint64_t prefix;
	if (slash && (size_t)(slash - s) < sizeof addr) {
		memcpy(addr, s, (size_t)(slash - s));
		addr[slash - s] = '\0';
		if (cfg_parse_ipv4(addr, &a) && cfg_parse_u64(slash + 1, &prefix) && prefix > 32)
			return cp_err(p, v->mark,
				      "%s: %s: prefix length %s is out of range 0..32", what, s,
				      slash + 1);
	}
	return ck_expect(p, what, desc, v);
}

/* One element of an interface's addresses: a host address with prefix, unique. */
static int fn_address(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		      void *obj)
{
	static const char desc[] = "an IPv4 address with prefix length like 10.0.0.2/24";
	struct us_cidr *c = field;
	const struct us_config *cfg = p->cfg;
	const char *s = ck_text(p, k->name, desc, v), *why;
	if (!s)
		return -1;
	if (!cfg_parse_cidr(s, c))
		return ck_cidr_err(p, k->name, desc, v, s);
	if ((why = cfg_check_host(c->addr)))
		return cp_err(p, v->mark, "%s: %s %s", k->name, s, why);
	/* Every interface parsed so far, including this one (obj), is below nifaces. */
	for (int i = 0; i < cfg->nifaces; i++) {
		const struct us_iface_config *o = &cfg->ifaces[i];
		for (int j = 0; j < o->naddrs; j++)
			if (o->addrs[j].addr.s_addr == c->addr.s_addr) {
				char a[INET_ADDRSTRLEN];
				cfg_format_ipv4(c->addr, a, sizeof a);
				return cp_err(p, v->mark,
					      "%s: duplicate address %s (also on interface \"%s\")",
					      k->name, a, o->name);
			}
	}
	return 0;
}

/* A route destination: "default" or a network address with prefix. */
static int fn_route_to(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		       void *obj)
{
	static const char desc[] = "\"default\" or a network like 10.1.0.0/16";
	struct us_cidr *c = field;
	const char *s = ck_text(p, k->name, desc, v);
	if (!s)
		return -1;
	if (strcmp(s, "default") == 0) {
		c->addr.s_addr = 0;
		c->prefix = 0;
		return 0;
	}
	if (!cfg_parse_cidr(s, c))
		return ck_cidr_err(p, k->name, desc, v, s);
	uint32_t mask = cfg_mask(c->prefix);
	if (ntohl(c->addr.s_addr) & ~mask) {
		struct us_cidr net = { { htonl(ntohl(c->addr.s_addr) & mask) }, c->prefix };
		char n[CFG_CIDR_STRLEN];
		cfg_format_cidr(&net, n, sizeof n);
		return cp_err(p, v->mark, "%s: %s has host bits set (the network is %s)", k->name, s,
			      n);
	}
	return 0;
}

/* One nameserver address: a host address, each at most once. */
static int fn_nameserver(struct cp *p, const struct ck_key *k, const struct cy_node *v,
			 void *field, void *obj)
{
	const struct us_config *cfg = obj;
	struct in_addr *a = field;
	if (ck_host(p, k->name, v, a))
		return -1;
	for (int i = 0; i < cfg->nnameservers; i++)
		if (cfg->nameservers[i].s_addr == a->s_addr)
			return cp_err(p, v->mark, "%s: duplicate nameserver %s", k->name, v->str);
	return 0;
}

/* One search domain: a DNS name, each at most once (ignoring case). */
static int fn_search(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		     void *obj)
{
	const struct us_config *cfg = obj;
	char *d = field;
	if (ck_dns_name(p, k->name, "a domain name", v, d))
		return -1;
	for (int i = 0; i < cfg->nsearch; i++)
		if (strcasecmp(cfg->search[i], d) == 0)
			return cp_err(p, v->mark, "%s: duplicate domain \"%s\"", k->name, d);
	return 0;
}

/* port: 1..65535 into a uint16_t. */
static int fn_port(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		   void *obj)
{
	uint64_t u;
	if (ck_uint(p, k, v, &u))
		return -1;
	*(uint16_t *)field = (uint16_t)u;
	return 0;
}

/* proto: "tcp" or "udp" into IPPROTO_TCP or IPPROTO_UDP (k->names is cfg_proto_names). */
static int fn_proto(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		    void *obj)
{
	int i;
	if (ck_enum(p, k, v, &i))
		return -1;
	*(int *)field = i == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	return 0;
}

/*
 * A name from k->names copied into a char[16] (tcp.congestion). Linux's
 * "reno" is an alias stored as the canonical "newreno" (TCP_CONGESTION too).
 */
static int fn_congestion(struct cp *p, const struct ck_key *k, const struct cy_node *v,
			 void *field, void *obj)
{
	int i;
	if (v->kind == CY_SCALAR && !v->null && v->len == 4 && memcmp(v->str, "reno", 4) == 0) {
		snprintf(field, sizeof ((struct us_tcp_config *)0)->congestion, "newreno");
		return 0;
	}
	if (ck_enum(p, k, v, &i))
		return -1;
	snprintf(field, sizeof ((struct us_tcp_config *)0)->congestion, "%s", k->names[i]);
	return 0;
}

/* ---- the schema --------------------------------------------------------- */

#define IFC(f) offsetof(struct us_iface_config, f)
#define IMP(f) offsetof(struct us_impair, f)
#define RT(f)  offsetof(struct us_route_config, f)
#define ARP(f) offsetof(struct us_arp_static, f)
#define CFG(f) offsetof(struct us_config, f)
#define TCP(f) offsetof(struct us_tcp_config, f)
#define SVC(f) offsetof(struct us_service_config, f)

static const struct ck_key impair_keys[] = {
	{ .name = "loss", .type = CK_PROB, .off = IMP(loss) },
	{ .name = "duplicate", .type = CK_PROB, .off = IMP(duplicate) },
	{ .name = "reorder", .type = CK_PROB, .off = IMP(reorder) },
	{ .name = "corrupt", .type = CK_PROB, .off = IMP(corrupt) },
	{ .name = "delay_ms", .type = CK_U32, .off = IMP(delay_ms), .max = CFG_IMPAIR_MS_MAX },
	{ .name = "jitter_ms", .type = CK_U32, .off = IMP(jitter_ms), .max = CFG_IMPAIR_MS_MAX },
	{ .name = "rate_mbit", .type = CK_U32, .off = IMP(rate_mbit), .max = CFG_IMPAIR_RATE_MAX },
};
static const struct ck_map impair_map = CK_MAP_OF(impair_keys, NULL, NULL);

/*
 * impair: either the impairment keys (both directions; on a pair wire,
 * what this end sends) or {in: {...}, out: {...}}, one map per direction
 * of the interface layer; a pair interface may have both.
 */
static int fn_impair(struct cp *p, const struct ck_key *k, const struct cy_node *v, void *field,
		     void *obj)
{
	struct us_iface_config *ifc = obj;
	char q[CY_QUOTE_MAX + 8];
	const struct cy_node *flat = NULL;
	if (v->kind != CY_MAP)
		return ck_parse_map(p, "impair", &impair_map, v, &ifc->impair);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct cy_node *kn = v->kids[i], *vn = v->kids[i + 1];
		bool in = kn->kind == CY_SCALAR && kn->len == 2 && memcmp(kn->str, "in", 2) == 0;
		bool out = kn->kind == CY_SCALAR && kn->len == 3 && memcmp(kn->str, "out", 3) == 0;
		if (!in && !out) {
			flat = flat ? flat : kn;
			continue;
		}
		for (size_t j = 0; j < i; j += 2)
			if (v->kids[j]->len == kn->len && memcmp(v->kids[j]->str, kn->str, kn->len) == 0)
				return cp_err(p, kn->mark, "impair: duplicate key %s (first at %d:%d)",
					      cy_quote(kn->str, kn->len, q), v->kids[j]->mark.line,
					      v->kids[j]->mark.col);
		if (ck_parse_map(p, in ? "impair.in" : "impair.out", &impair_map, vn,
				 in ? &ifc->impair_in : &ifc->impair_out))
			return -1;
	}
	if (!flat)
		return 0;
	/* Parse the flat keys (in/out skipped) into the record of both directions. */
	struct cy_node sub = *v;
	const struct cy_node *kids[2 * CK_MAX_KEYS + 2];
	size_t nk = 0;
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct cy_node *kn = v->kids[i];
		if (kn->kind == CY_SCALAR && ((kn->len == 2 && memcmp(kn->str, "in", 2) == 0) ||
					      (kn->len == 3 && memcmp(kn->str, "out", 3) == 0)))
			continue;
		if (nk + 2 > sizeof kids / sizeof kids[0])
			return cp_err(p, kn->mark, "impair: too many keys");
		kids[nk++] = kn;
		kids[nk++] = v->kids[i + 1];
	}
	sub.kids = (struct cy_node **)kids;
	sub.nkids = nk;
	return ck_parse_map(p, "impair", &impair_map, &sub, &ifc->impair);
}

/* device, output and impair depend on the backend (cfg_check_backend_keys). */
static int iface_post(struct cp *p, const struct ck_map *m, const char *ctx,
		      const struct cy_node *node, const struct ck_found *found, void *obj)
{
	struct us_iface_config *ifc = obj;
	char msg[160];
	const char *key;
	bool missing;
	ifc->forwarding_set = ck_get(m, found, "forwarding").key != NULL;
	if (!cfg_check_backend_keys(ifc, ck_get(m, found, "impair").key != NULL, msg, sizeof msg,
				    &key, &missing))
		return 0;
	const struct cy_node *kn = missing ? NULL : ck_get(m, found, key).key;
	return cp_err(p, kn ? kn->mark : node->mark, "%s", msg);
}

static const struct ck_key iface_keys[] = {
	{ .name = "backend", .type = CK_ENUM, .required = true, .off = IFC(backend),
	  .names = cfg_backend_names },
	{ .name = "device", .type = CK_STRING, .off = IFC(device), .size = US_PATH_MAX },
	{ .name = "output", .type = CK_STRING, .off = IFC(output), .size = US_PATH_MAX },
	{ .name = "macaddress", .type = CK_FN, .fn = fn_iface_mac },
	{ .name = "mtu", .type = CK_U32, .off = IFC(mtu), .min = US_MIN_MTU, .max = US_MAX_MTU },
	{ .name = "addresses", .type = CK_LIST, .off = IFC(addrs),
	  .elem_size = sizeof(struct us_cidr), .count_off = IFC(naddrs),
	  .max_count = US_MAX_ADDRS, .fn = fn_address },
	{ .name = "capture", .type = CK_STRING, .off = IFC(capture), .size = US_PATH_MAX },
	{ .name = "impair", .type = CK_FN, .fn = fn_impair },
	{ .name = "pcap_buffer_kb", .type = CK_U32, .off = IFC(pcap_buffer_kb),
	  .min = US_PCAP_BUFFER_KB_MIN, .max = US_PCAP_BUFFER_KB_MAX },
	{ .name = "offload", .type = CK_BOOL, .off = IFC(offload) },
	{ .name = "forwarding", .type = CK_BOOL, .off = IFC(forwarding) },
	{ .name = "dhcp4", .type = CK_BOOL, .off = IFC(dhcp4) },
	{ .name = "queues", .type = CK_U32, .off = IFC(queues), .min = 1, .max = US_MAX_QUEUES },
};
static const struct ck_map iface_map = CK_MAP_OF(iface_keys, NULL, iface_post);

/* interfaces: a mapping from the stack's interface names to interfaces. */
static int parse_interfaces(struct cp *p, const struct ck_key *k, const struct cy_node *v,
			    void *field, void *obj)
{
	struct us_config *cfg = obj;
	char q[CY_QUOTE_MAX + 8];

	if (v->kind == CY_SCALAR && v->null)
		return 0;  /* "no interfaces configured" comes from top_post */
	if (v->kind != CY_MAP)
		return ck_expect(p, k->name, "a mapping of interface names", v);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct cy_node *kn = v->kids[i], *vn = v->kids[i + 1];
		char name[US_IFNAME_MAX];
		const char *why = NULL;
		if (kn->kind != CY_SCALAR)
			return ck_expect(p, k->name, "an interface name", kn);
		if (kn->len == 0 || kn->len >= sizeof name || memchr(kn->str, '\0', kn->len)) {
			why = cfg_check_ifname("");
		} else {
			memcpy(name, kn->str, kn->len + 1);
			why = cfg_check_ifname(name);
		}
		if (why)
			return cp_err(p, kn->mark, "interface name %s %s",
				      cy_quote(kn->str, kn->len, q), why);
		for (int j = 0; j < cfg->nifaces; j++)
			if (strcmp(cfg->ifaces[j].name, name) == 0)
				return cp_err(p, kn->mark, "%s: duplicate key \"%s\" (first at %d:%d)",
					      k->name, name, cfg->ifaces[j].line,
					      cfg->ifaces[j].column);
		if (cfg->nifaces >= US_MAX_IFACES)
			return cp_err(p, kn->mark, "%s: too many entries (at most %d)", k->name,
				      US_MAX_IFACES);
		struct us_iface_config *ifc = &cfg->ifaces[cfg->nifaces++];
		cfg_iface_init(ifc);
		memcpy(ifc->name, name, sizeof name);
		ifc->line = kn->mark.line;
		ifc->column = kn->mark.col;
		char ctx[US_IFNAME_MAX + 16];
		snprintf(ctx, sizeof ctx, "interface \"%s\"", name);
		if (ck_parse_map(p, ctx, &iface_map, vn, ifc))
			return -1;
	}
	return 0;
}

/* A route remembers where its entry starts, for us_config_validate's messages. */
static int route_post(struct cp *p, const struct ck_map *m, const char *ctx,
		      const struct cy_node *node, const struct ck_found *found, void *obj)
{
	struct us_route_config *r = obj;
	r->line = node->mark.line;
	r->column = node->mark.col;
	return 0;
}

static const struct ck_key route_keys[] = {
	{ .name = "to", .type = CK_FN, .required = true, .off = RT(to), .fn = fn_route_to },
	{ .name = "via", .type = CK_FN, .off = RT(via), .fn = fn_host },
	{ .name = "metric", .type = CK_U32, .off = RT(metric), .max = UINT32_MAX },
	{ .name = "interface", .type = CK_STRING, .off = RT(iface), .size = US_IFNAME_MAX },
	{ .name = "src", .type = CK_FN, .off = RT(src), .fn = fn_host },
};
static const struct ck_map route_map = CK_MAP_OF(route_keys, NULL, route_post);

static int arp_static_post(struct cp *p, const struct ck_map *m, const char *ctx,
			   const struct cy_node *node, const struct ck_found *found, void *obj)
{
	const struct us_arp_static *e = obj;
	const struct us_config *cfg = p->cfg;
	for (const struct us_arp_static *o = cfg->arp_static; o < e; o++)
		if (o->addr.s_addr == e->addr.s_addr) {
			char a[INET_ADDRSTRLEN];
			cfg_format_ipv4(e->addr, a, sizeof a);
			return cp_err(p, ck_get(m, found, "address").val->mark,
				      "address: duplicate static ARP entry for %s", a);
		}
	return 0;
}

static const struct ck_key arp_static_keys[] = {
	{ .name = "address", .type = CK_FN, .required = true, .off = ARP(addr), .fn = fn_host },
	{ .name = "mac", .type = CK_FN, .required = true, .off = ARP(mac), .fn = fn_mac },
};
static const struct ck_map arp_static_map = CK_MAP_OF(arp_static_keys, NULL, arp_static_post);

static const struct ck_key arp_keys[] = {
	{ .name = "timeout_s", .type = CK_U32, .off = CFG(arp_timeout_s),
	  .min = CFG_ARP_TIMEOUT_MIN, .max = CFG_ARP_TIMEOUT_MAX },
	{ .name = "static", .type = CK_LIST, .off = CFG(arp_static), .map = &arp_static_map,
	  .what = "static ARP entry", .elem_size = sizeof(struct us_arp_static),
	  .count_off = CFG(narp_static), .max_count = US_MAX_STATIC_ARP },
};
static const struct ck_map arp_map = CK_MAP_OF(arp_keys, NULL, NULL);

/* ip_local_port_range: [LOW, HIGH], 1 <= LOW <= HIGH <= 65535 (Linux's
 * net.ipv4.ip_local_port_range, written as a two-item sequence). */
static int fn_port_range(struct cp *p, const struct ck_key *k, const struct cy_node *v,
			 void *field, void *obj)
{
	(void)field;
	struct us_config *cfg = obj;
	const char *desc = "a sequence of two ports [LOW, HIGH], 1 <= LOW <= HIGH <= 65535";
	if (v->kind != CY_SEQ || v->nkids != 2)
		return ck_expect(p, k->name, desc, v);
	uint64_t lo, hi;
	if (ck_uint(p, k, v->kids[0], &lo) || ck_uint(p, k, v->kids[1], &hi))
		return -1;
	if (lo > hi)
		return cp_err(p, v->mark, "%s: low port %llu is above high port %llu", k->name,
			      (unsigned long long)lo, (unsigned long long)hi);
	cfg->port_lo = (uint16_t)lo;
	cfg->port_hi = (uint16_t)hi;
	return 0;
}

static const struct ck_key stack_keys[] = {
	{ .name = "log_level", .type = CK_ENUM, .off = CFG(log_level),
	  .names = cfg_log_level_names },
	{ .name = "seed", .type = CK_FN, .fn = fn_seed, .max = UINT64_MAX },
	{ .name = "busy_poll_us", .type = CK_U32, .off = CFG(busy_poll_us), .min = 0,
	  .max = US_MAX_BUSY_POLL_US },
	{ .name = "drain_timeout_ms", .type = CK_U32, .off = CFG(drain_timeout_ms), .min = 0,
	  .max = US_MAX_DRAIN_TIMEOUT_MS },
	{ .name = "max_sockets", .type = CK_U32, .off = CFG(max_sockets), .min = US_MIN_MAX_SOCKETS,
	  .max = US_MAX_MAX_SOCKETS },
	{ .name = "forwarding", .type = CK_BOOL, .off = CFG(forwarding) },
	{ .name = "send_redirects", .type = CK_BOOL, .off = CFG(send_redirects) },
	{ .name = "ip_local_port_range", .type = CK_FN, .fn = fn_port_range, .min = 1,
	  .max = 65535 },
};
static const struct ck_map stack_map = CK_MAP_OF(stack_keys, NULL, NULL);

/* addresses is required and may not be empty (an empty list is pointed at). */
static int nameservers_post(struct cp *p, const struct ck_map *m, const char *ctx,
			    const struct cy_node *node, const struct ck_found *found, void *obj)
{
	const struct us_config *cfg = obj;
	const struct cy_node *vn = ck_get(m, found, "addresses").val;
	if (cfg->nnameservers == 0)
		return cp_err(p, vn ? vn->mark : node->mark,
			      "addresses: expected 1..%d IPv4 addresses, got none",
			      US_MAX_NAMESERVERS);
	return 0;
}

static const struct ck_key nameservers_keys[] = {
	{ .name = "addresses", .type = CK_LIST, .required = true, .off = CFG(nameservers),
	  .elem_size = sizeof(struct in_addr), .count_off = CFG(nnameservers),
	  .max_count = US_MAX_NAMESERVERS, .fn = fn_nameserver },
	{ .name = "search", .type = CK_LIST, .off = CFG(search), .elem_size = US_HOSTNAME_MAX,
	  .count_off = CFG(nsearch), .max_count = US_MAX_SEARCH, .fn = fn_search },
	{ .name = "timeout_ms", .type = CK_U32, .off = CFG(dns_timeout_ms),
	  .min = CFG_DNS_TIMEOUT_MIN, .max = CFG_DNS_TIMEOUT_MAX },
	{ .name = "attempts", .type = CK_U32, .off = CFG(dns_attempts),
	  .min = CFG_DNS_ATTEMPTS_MIN, .max = CFG_DNS_ATTEMPTS_MAX },
};
static const struct ck_map nameservers_map = CK_MAP_OF(nameservers_keys, NULL, nameservers_post);

/*
 * hosts: a mapping from DNS names to addresses. Names keep the case they
 * were written in but two names equal ignoring case are a duplicate.
 */
static int parse_hosts(struct cp *p, const struct ck_key *k, const struct cy_node *v,
		       void *field, void *obj)
{
	struct us_config *cfg = obj;

	if (v->kind == CY_SCALAR && v->null)
		return 0;
	if (v->kind != CY_MAP)
		return ck_expect(p, k->name, "a mapping of host names to IPv4 addresses", v);
	for (size_t i = 0; i + 1 < v->nkids; i += 2) {
		const struct cy_node *kn = v->kids[i], *vn = v->kids[i + 1];
		char name[US_HOSTNAME_MAX];
		if (kn->kind != CY_SCALAR)
			return ck_expect(p, k->name, "a host name", kn);
		if (ck_dns_name(p, k->name, "a host name", kn, name))
			return -1;
		for (int j = 0; j < cfg->nhosts; j++) {
			if (strcasecmp(cfg->hosts[j].name, name) != 0)
				continue;
			/* The first one is key 2j: every earlier key made an entry. */
			const struct cy_node *first = v->kids[2 * (size_t)j];
			if (strcmp(cfg->hosts[j].name, name) == 0)
				return cp_err(p, kn->mark, "%s: duplicate name \"%s\" (first at %d:%d)",
					      k->name, name, first->mark.line, first->mark.col);
			return cp_err(p, kn->mark,
				      "%s: duplicate name \"%s\" (first at %d:%d as \"%s\"; names "
				      "are case-insensitive)",
				      k->name, name, first->mark.line, first->mark.col,
				      cfg->hosts[j].name);
		}
		if (cfg->nhosts >= US_MAX_HOSTS)
			return cp_err(p, kn->mark, "%s: too many entries (at most %d)", k->name,
				      US_MAX_HOSTS);
		struct us_host_entry *h = &cfg->hosts[cfg->nhosts];
		char what[US_HOSTNAME_MAX + 16];
		snprintf(what, sizeof what, "host \"%s\"", name);
		if (ck_host(p, what, vn, &h->addr))
			return -1;
		memcpy(h->name, name, sizeof name);
		cfg->nhosts++;
	}
	return 0;
}

/* rto_initial_ms >= rto_min_ms: pointed at rto_initial_ms, or rto_min_ms if it is defaulted. */
static int tcp_post(struct cp *p, const struct ck_map *m, const char *ctx,
		    const struct cy_node *node, const struct ck_found *found, void *obj)
{
	char msg[128];
	if (!cfg_check_tcp_rto(obj, msg, sizeof msg))
		return 0;
	const struct cy_node *vn = ck_get(m, found, "rto_initial_ms").val;
	if (!vn)
		vn = ck_get(m, found, "rto_min_ms").val;
	return cp_err(p, vn ? vn->mark : node->mark, "%s", msg);
}

static const struct ck_key tcp_keys[] = {
	{ .name = "mss", .type = CK_U32, .off = TCP(mss), .min = CFG_TCP_MSS_MIN,
	  .max = CFG_TCP_MSS_MAX },
	{ .name = "sndbuf", .type = CK_U32, .off = TCP(sndbuf), .min = CFG_TCP_BUF_MIN,
	  .max = CFG_TCP_BUF_MAX },
	{ .name = "rcvbuf", .type = CK_U32, .off = TCP(rcvbuf), .min = CFG_TCP_BUF_MIN,
	  .max = CFG_TCP_BUF_MAX },
	{ .name = "nodelay", .type = CK_BOOL, .off = TCP(nodelay) },
	{ .name = "delayed_ack_ms", .type = CK_U32, .off = TCP(delayed_ack_ms),
	  .max = CFG_TCP_DELACK_MAX },
	{ .name = "rto_min_ms", .type = CK_U32, .off = TCP(rto_min_ms), .min = CFG_TCP_RTO_MIN,
	  .max = CFG_TCP_RTO_MAX },
	{ .name = "rto_initial_ms", .type = CK_U32, .off = TCP(rto_initial_ms),
	  .min = CFG_TCP_RTO_MIN, .max = CFG_TCP_RTO_MAX },
	{ .name = "retries", .type = CK_U32, .off = TCP(retries), .min = CFG_TCP_RETRIES_MIN,
	  .max = CFG_TCP_RETRIES_MAX },
	{ .name = "syn_retries", .type = CK_U32, .off = TCP(syn_retries),
	  .min = CFG_TCP_RETRIES_MIN, .max = CFG_TCP_RETRIES_MAX },
	{ .name = "time_wait_s", .type = CK_U32, .off = TCP(time_wait_s),
	  .max = CFG_TCP_TIME_WAIT_MAX },
	{ .name = "congestion", .type = CK_FN, .off = TCP(congestion), .fn = fn_congestion,
	  .names = cfg_congestion_names },
	{ .name = "window_scaling", .type = CK_BOOL, .off = TCP(window_scaling) },
	{ .name = "timestamps", .type = CK_BOOL, .off = TCP(timestamps) },
	{ .name = "sack", .type = CK_BOOL, .off = TCP(sack) },
	{ .name = "rack", .type = CK_BOOL, .off = TCP(rack) },
	{ .name = "syncookies", .type = CK_BOOL, .off = TCP(syncookies) },
};
static const struct ck_map tcp_map = CK_MAP_OF(tcp_keys, NULL, tcp_post);

static void service_init(void *obj)
{
	cfg_service_init(obj);
}

/*
 * A service remembers where its entry starts; root, proto and duplicates
 * are checked by cfg_check_service, against the services before it.
 */
static int service_post(struct cp *p, const struct ck_map *m, const char *ctx,
			const struct cy_node *node, const struct ck_found *found, void *obj)
{
	struct us_service_config *svc = obj;
	const struct us_config *cfg = p->cfg;
	char msg[200];
	const char *key;

	svc->line = node->mark.line;
	svc->column = node->mark.col;
	if (!cfg_check_service(cfg, (int)(svc - cfg->services), msg, sizeof msg, &key))
		return 0;
	const struct cy_node *kn = key ? ck_get(m, found, key).key : NULL;
	return cp_err(p, kn ? kn->mark : node->mark, "%s", msg);
}

static const struct ck_key service_keys[] = {
	{ .name = "type", .type = CK_ENUM, .required = true, .off = SVC(type),
	  .names = cfg_service_type_names },
	{ .name = "proto", .type = CK_FN, .off = SVC(proto), .fn = fn_proto,
	  .names = cfg_proto_names },
	{ .name = "port", .type = CK_FN, .required = true, .off = SVC(port), .fn = fn_port,
	  .min = CFG_PORT_MIN, .max = CFG_PORT_MAX },
	{ .name = "root", .type = CK_STRING, .off = SVC(root), .size = US_PATH_MAX },
	{ .name = "max_connections", .type = CK_U32, .off = SVC(max_connections),
	  .min = 1, .max = CFG_HTTP_MAX_CONNECTIONS },
};
static const struct ck_map service_map = CK_MAP_OF(service_keys, service_init, service_post);

/* At least one interface; pointed at "interfaces:" if it was there but empty. */
static int top_post(struct cp *p, const struct ck_map *m, const char *ctx,
		    const struct cy_node *node, const struct ck_found *found, void *obj)
{
	const struct us_config *cfg = obj;
	const struct cy_node *kn = ck_get(m, found, "interfaces").key;
	if (cfg->nifaces == 0)
		return cp_err(p, kn ? kn->mark : node->mark, "no interfaces configured");
	return 0;
}

/*
 * "stack", "arp" and "nameservers" are sections of struct us_config itself:
 * their offset is 0.
 */
static const struct ck_key top_keys[] = {
	{ .name = "stack", .type = CK_MAP, .map = &stack_map },
	{ .name = "interfaces", .type = CK_FN, .fn = parse_interfaces },
	{ .name = "routes", .type = CK_LIST, .off = CFG(routes), .map = &route_map,
	  .what = "route", .elem_size = sizeof(struct us_route_config),
	  .count_off = CFG(nroutes), .max_count = US_MAX_ROUTES },
	{ .name = "arp", .type = CK_MAP, .map = &arp_map },
	{ .name = "nameservers", .type = CK_MAP, .map = &nameservers_map },
	{ .name = "hosts", .type = CK_FN, .fn = parse_hosts },
	{ .name = "tcp", .type = CK_MAP, .off = CFG(tcp), .map = &tcp_map },
	{ .name = "services", .type = CK_LIST, .off = CFG(services), .map = &service_map,
	  .what = "service", .elem_size = sizeof(struct us_service_config),
	  .count_off = CFG(nservices), .max_count = US_MAX_SERVICES },
};
static const struct ck_map top_map = CK_MAP_OF(top_keys, NULL, top_post);

/*
 * Keys users carry over from netplan (and a few other habits), with what
 * to write instead: shown in place of the bare "unknown key" list.
 */
static const struct {
	const struct ck_map *map;
	const char *key;
	const char *hint;
} ck_hints[] = {
	{ &top_map, "network",
	  "netplan's \"network:\" wrapper is not used here: put interfaces:, routes: and "
	  "nameservers: at the top level" },
	{ &top_map, "ethernets",
	  "netplan's \"ethernets:\" is \"interfaces:\" here, each with a backend: (tap, pcap, "
	  "...)" },
	{ &top_map, "version", "no version key is needed (this is not a netplan file)" },
	{ &top_map, "renderer", "no renderer key is needed (this is not a netplan file)" },
	{ &iface_map, "gateway4",
	  "use routes: at top level: routes: [{to: default, via: ADDRESS}]" },
	{ &iface_map, "gateway", "use routes: at top level: routes: [{to: default, via: ADDRESS}]" },
	{ &iface_map, "routes",
	  "use routes: at top level (add \"interface: NAME\" to a route to bind it to this "
	  "interface)" },
	{ &iface_map, "nameservers",
	  "use nameservers: at top level: nameservers: {addresses: [ADDRESS], search: [DOMAIN]}" },
	{ &iface_map, "address", "the key is \"addresses\", a list: addresses: [10.0.0.2/24]" },
	{ &iface_map, "dhcp4", "DHCP is not supported: give addresses: [A.B.C.D/P]" },
	{ &iface_map, "gateway6", "IPv6 is not supported" },
	{ &iface_map, "dhcp6", "IPv6 is not supported" },
	{ &iface_map, "mac", "the key is \"macaddress\"" },
	{ &route_map, "gw", "the gateway key is \"via\"" },
	{ &route_map, "gateway", "the gateway key is \"via\"" },
	{ &route_map, "dev", "the key is \"interface\"" },
};

static const char *ck_hint(const struct ck_map *m, const char *key, size_t len)
{
	for (size_t i = 0; i < sizeof ck_hints / sizeof ck_hints[0]; i++)
		if (ck_hints[i].map == m && strlen(ck_hints[i].key) == len &&
		    memcmp(ck_hints[i].key, key, len) == 0)
			return ck_hints[i].hint;
	return NULL;
}

/* ---- entry points ------------------------------------------------------- */

int us_config_load_string(const char *name, const char *yaml, size_t len,
			  struct us_config *cfg, char *err, size_t errlen)
{
	struct cp p = { .err = err, .errlen = errlen, .cfg = cfg };
	struct cy_node *root = NULL;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	p.name = name ? name : "<string>";
	if (!cfg || (!yaml && len)) {
		cfg_errf(err, errlen, p.name, 0, 0, "invalid argument");
		errno = EINVAL;
		return -1;
	}
	us_config_init(cfg);
	snprintf(cfg->source, sizeof cfg->source, "%s", p.name);
	if (len > CFG_INPUT_MAX) {
		cfg_errf(err, errlen, p.name, 0, 0, "larger than %u bytes", CFG_INPUT_MAX);
		errno = EFBIG;
		return -1;
	}
	p.buf = (const unsigned char *)(yaml ? yaml : "");
	p.len = len;

	rc = cy_build(&p, &root);
	if (rc == 0 && (!root || (root->kind == CY_SCALAR && root->null)))
		/* No document, or one holding nothing: an empty file. */
		rc = cp_err(&p, (struct cy_mark){ 1, 1 }, "no interfaces configured");
	if (rc == 0)
		rc = ck_parse_map(&p, "top level", &top_map, root, cfg);
	cy_free(root);
	if (rc == 0)
		rc = us_config_validate(cfg, err, errlen);
	return rc;
}

int us_config_load(const char *path, struct us_config *cfg, char *err, size_t errlen)
{
	char eb[128];
	int e;

	if (err && errlen)
		err[0] = '\0';
	if (cfg)
		us_config_init(cfg);
	if (!path || !cfg) {
		cfg_errf(err, errlen, path, 0, 0, "invalid argument");
		errno = EINVAL;
		return -1;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		e = errno;
		cfg_errf(err, errlen, path, 0, 0, "cannot open: %s", strerror_r(e, eb, sizeof eb));
		errno = e;
		return -1;
	}
	char *buf = malloc(CFG_INPUT_MAX + 1);
	if (!buf) {
		fclose(f);
		cfg_errf(err, errlen, path, 0, 0, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	size_t n = fread(buf, 1, CFG_INPUT_MAX + 1, f);
	int rc;
	if (ferror(f)) {
		e = errno ? errno : EIO;
		rc = cfg_errf(err, errlen, path, 0, 0, "cannot read: %s",
			      strerror_r(e, eb, sizeof eb));
		errno = e;
	} else if (n > CFG_INPUT_MAX) {
		rc = cfg_errf(err, errlen, path, 0, 0, "larger than %u bytes", CFG_INPUT_MAX);
		errno = EFBIG;
	} else {
		rc = us_config_load_string(path, buf, n, cfg, err, errlen);
	}
	free(buf);
	fclose(f);
	return rc;
}
