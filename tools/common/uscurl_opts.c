/*
 * uscurl_opts.c — uscurl's command line (uscurl_opts.h): curl's option
 * names, their arguments (-d @FILE, --data-urlencode forms, -C -, -r,
 * --limit-rate suffixes, -w @FILE) and curl's refusals (two request
 * methods, --fail with --fail-with-body, --compressed).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "tools/common/uscurl_opts.h"

enum {
	OPT_MAX_REDIRS = CLI_OPT__TOOL_BASE,
	OPT_DATA_BINARY,
	OPT_DATA_RAW,
	OPT_DATA_URLENCODE,
	OPT_CONNECT_TIMEOUT,
	OPT_RESOLVE,
	OPT_VERSION,
	OPT_RETRY,
	OPT_RETRY_DELAY,
	OPT_RETRY_MAX_TIME,
	OPT_RETRY_CONNREFUSED,
	OPT_RETRY_ALL_ERRORS,
	OPT_FAIL_WITH_BODY,
	OPT_NO_PROGRESS_METER,
	OPT_LIMIT_RATE,
	OPT_COMPRESSED,
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: uscurl [options] URL\n"
		"  -o, --output FILE        write the body to FILE instead of standard output\n"
		"  -O, --remote-name        write it to a file named like the URL's last path segment\n"
		"  -s, --silent             no progress meter, no error messages\n"
		"  -S, --show-error         with -s, still print error messages\n"
		"  -D, --dump-header FILE   write the response headers to FILE ('-': standard output)\n"
		"  -C, --continue-at N|-    resume at byte N (-: the size of the -o file)\n"
		"  -r, --range RANGE        ask for bytes RANGE (Range: bytes=RANGE)\n"
		"  -T, --upload-file FILE   PUT FILE ('-': standard input, chunked)\n"
		"  -G, --get                put the -d data in the URL's query, GET\n"
		"      --data-urlencode DATA  -d with DATA (name=content, =content, name@FILE,\n"
		"                           @FILE) URL-encoded\n"
		"      --retry N            retry transient errors N times (curl's rules)\n"
		"      --retry-delay SECS   wait SECS between retries (default 1, doubling)\n"
		"      --retry-max-time SECS  retry only within SECS\n"
		"      --retry-connrefused  retry on Connection refused too\n"
		"      --retry-all-errors   retry on any error\n"
		"      --limit-rate SPEED   at most SPEED bytes per second (suffix k, m, g)\n"
		"      --fail-with-body     as -f, but write the body\n"
		"      --no-progress-meter  no progress meter, but messages\n"
		"  -#, --progress-bar       a bar of '#' instead of the meter\n"
		"      --compressed         refused: content decoding is not built in\n"
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
		"                           %%{size_download}, %%{time_total}, %%{json}, ...\n"
		"                           (@FILE: read it from FILE, newlines dropped)\n"
		"      --resolve HOST:PORT:ADDR  use ADDR for HOST and PORT (PORT may be *)\n"
		"  -V, --version            print the version\n"
		CLI_USAGE_STACK_CONFIG_LONG CLI_USAGE_QUICK
		"  -h, --help               this help\n");
}

/* -s so far on the command line: curl mutes its warnings from there on. */
static bool warn_muted;

void uscurl_warn(const char *fmt, ...)
{
	if (warn_muted)
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof text - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof text - 2)
		n = (int)sizeof text - 2;
	text[n] = '\n';                 /* curl's messages end with one, and it counts */
	text[n + 1] = '\0';
	/* curl's voutf: "Warning: " lines of at most 79 columns, cut after a space. */
	const size_t width = 79 - strlen("Warning: ");
	const char *p = text;
	size_t len = strlen(p);
	while (len > 0) {
		if (len > width) {
			size_t cut = width - 1;
			while (cut && p[cut] != ' ' && p[cut] != '\t' && p[cut] != '\n')
				cut--;
			if (cut == 0)
				cut = width - 1;
			fprintf(stderr, "Warning: %.*s\n", (int)(cut + 1), p);
			p += cut + 1;
			len -= cut + 1;
		} else {
			fprintf(stderr, "Warning: %s", p);
			len = 0;
		}
	}
}

/* The option as the user wrote it: "-m" or "--max-time". */
static const char *opt_name(char **argv, int optind, const char *arg, char *buf, size_t n)
{
	const char *tok = argv[optind - 1];
	if (arg && tok == arg && optind >= 2)
		tok = argv[optind - 2];
	size_t k = strcspn(tok, "=");
	if (tok[0] == '-' && tok[1] != '-')
		k = 2;
	snprintf(buf, n, "%.*s", (int)k, tok);
	return buf;
}

/* curl's refusal of a numerical argument; the exit status (2). */
static int bad_number(char **argv, int optind, const char *arg, bool negative)
{
	char name[64];
	fprintf(stderr, "uscurl: option %s: expected a %s numerical parameter\n"
		"uscurl: try 'uscurl --help' for more information\n",
		opt_name(argv, optind, arg, name, sizeof name), negative ? "positive" : "proper");
	return HC_FAILED_INIT;
}

/* Seconds (fractions allowed): 0, or -1 not a number, -2 negative. */
static int parse_secs(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v != v || v > 31536000)
		return -1;
	if (v < 0)
		return -2;
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
			/* curl 7.88 goes on with nothing from the file. */
			uscurl_warn("Couldn't read data from file \"%s\", this makes an empty POST.",
				    arg + 1);
			piece = calloc(1, 1);
			plen = 0;
			if (!piece)
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

/*
 * --data-urlencode, as curl: "content" and "=content" send content
 * encoded; "name=content" sends name=ENCODED; "@file" and "name@file"
 * the same with the content read from file ("-": standard input). The
 * name is sent as written.
 */
static int add_urlencoded(struct opts *o, const char *arg)
{
	const char *p = strpbrk(arg, "@=");
	size_t nlen = p ? (size_t)(p - arg) : 0;
	const char *content = p ? p + 1 : arg;
	size_t clen;
	char *file = NULL;
	if (p && *p == '@') {
		file = slurp(content, &clen);
		if (!file) {
			/* curl 7.88: the whole piece is empty, name included. */
			uscurl_warn("Couldn't read data from file \"%s\", this makes an empty POST.",
				    arg);
			return add_data(o, "", OPT_DATA_RAW);
		}
		content = file;
	} else {
		clen = strlen(content);
	}
	size_t cap = nlen + 1 + clen * 3 + 1;
	char *enc = malloc(cap);
	int rc = -1;
	if (enc) {
		size_t k = 0;
		if (nlen) {
			memcpy(enc, arg, nlen);
			enc[nlen] = '=';
			k = nlen + 1;
		}
		if (hc_urlencode(content, clen, enc + k, cap - k) >= 0)
			rc = add_data(o, enc, OPT_DATA_RAW);
	}
	free(enc);
	free(file);
	return rc;
}

/* --limit-rate SPEED: bytes per second, with an optional k, m or g (powers of 1024). */
static int parse_rate(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	double mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 'b': case 'B': end++; break;
	default: break;
	}
	if (errno || end == s || *end || !(v >= 0) || v * mul > 1e15) {
		uscurl_warn("invalid number specified for rate");
		fprintf(stderr, "uscurl: option --limit-rate: is badly used here\n"
			"uscurl: try 'uscurl --help' for more information\n");
		return -1;
	}
	*out = (uint64_t)(v * mul);
	return 0;
}

/* -w @FILE: curl's file2string keeps each line up to its first CR or LF. */
static char *read_writeout(const char *path)
{
	size_t n;
	char *b = slurp(path, &n);
	if (!b)
		return NULL;
	size_t w = 0;
	bool cut = false;
	for (size_t r = 0; r < n; r++) {
		if (b[r] == '\n') {
			cut = false;
			continue;
		}
		if (b[r] == '\r')
			cut = true;
		if (!cut)
			b[w++] = b[r];
	}
	b[w] = '\0';
	return b;
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

/*
 * -G: the data after the URL's query ('?' or '&'), before any fragment.
 * -T FILE: a URL whose path ends in '/' (or that has none) gets FILE's
 * base name. Returns a new string (or NULL when out of memory).
 */
static char *effective_url(const struct opts *o)
{
	const char *url = o->url;
	size_t n = strlen(url);
	const char *auth = strstr(url, "://");
	auth = auth ? auth + 3 : url;
	size_t frag = strcspn(url, "#");
	const char *add = "";
	char sep[2] = "";
	size_t at = n;
	if (o->upload && strcmp(o->upload, "-") != 0) {
		size_t alen = strcspn(auth, "/?#");
		size_t pend = (size_t)(auth - url) + alen + strcspn(auth + alen, "?#");
		const char *base = strrchr(o->upload, '/');
		base = base ? base + 1 : o->upload;
		at = pend;
		if (auth[alen] != '/') {
			sep[0] = '/';
			add = base;
		} else if (url[pend - 1] == '/') {
			add = base;
		}
	} else if (o->get && o->has_data) {
		at = frag;
		sep[0] = memchr(url, '?', frag) ? '&' : '?';
		add = o->data;
	}
	size_t alen = strlen(sep) + strlen(add);
	char *r = malloc(n + alen + 1);
	if (!r)
		return NULL;
	memcpy(r, url, at);
	memcpy(r + at, sep, strlen(sep));
	memcpy(r + at + strlen(sep), add, strlen(add));
	memcpy(r + at + alen, url + at, n - at + 1);
	return r;
}

int uscurl_options(int argc, char **argv, struct us_cli *cli, struct opts *o)
{
	o->max_redirs = 50;
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
		{ "data-urlencode", required_argument, NULL, OPT_DATA_URLENCODE },
		{ "get", no_argument, NULL, 'G' },
		{ "upload-file", required_argument, NULL, 'T' },
		{ "continue-at", required_argument, NULL, 'C' },
		{ "range", required_argument, NULL, 'r' },
		{ "dump-header", required_argument, NULL, 'D' },
		{ "user-agent", required_argument, NULL, 'A' },
		{ "user", required_argument, NULL, 'u' },
		{ "fail", no_argument, NULL, 'f' },
		{ "fail-with-body", no_argument, NULL, OPT_FAIL_WITH_BODY },
		{ "max-time", required_argument, NULL, 'm' },
		{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "retry-delay", required_argument, NULL, OPT_RETRY_DELAY },
		{ "retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME },
		{ "retry-connrefused", no_argument, NULL, OPT_RETRY_CONNREFUSED },
		{ "retry-all-errors", no_argument, NULL, OPT_RETRY_ALL_ERRORS },
		{ "limit-rate", required_argument, NULL, OPT_LIMIT_RATE },
		{ "no-progress-meter", no_argument, NULL, OPT_NO_PROGRESS_METER },
		{ "progress-bar", no_argument, NULL, '#' },
		{ "compressed", no_argument, NULL, OPT_COMPRESSED },
		{ "write-out", required_argument, NULL, 'w' },
		{ "resolve", required_argument, NULL, OPT_RESOLVE },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv,
				  CLI_SHORT_OPTIONS_NO_C "o:OsSIiLH:X:d:A:u:fm:w:VhC:r:D:T:G#", longopts,
				  NULL)) != -1) {
		int r = us_cli_option(cli, opt, optarg);
		if (r < 0)
			return HC_FAILED_INIT;
		if (r > 0) {
			if (opt == 'v')
				o->verbose++;
			continue;
		}
		switch (opt) {
		case 'o': o->out_path = optarg; break;
		case 'O': o->remote_name = true; break;
		case 's':
			o->silent = true;
			warn_muted = true;
			break;
		case 'S': o->show_error = true; break;
		case 'I': o->head = true; break;
		case 'i': o->include = true; break;
		case 'L': o->follow = true; break;
		case 'f': o->fail = true; break;
		case 'X': o->method = optarg; break;
		case 'A': o->user_agent = optarg; break;
		case 'u': o->user = optarg; break;
		case 'G': o->get = true; break;
		case 'T': o->upload = optarg; break;
		case 'D': o->dump_header = optarg; break;
		case '#': o->bar = true; break;
		case OPT_FAIL_WITH_BODY: o->fail_with_body = true; break;
		case OPT_NO_PROGRESS_METER: o->no_meter = true; break;
		case OPT_RETRY_CONNREFUSED: o->retry_connrefused = true; break;
		case OPT_RETRY_ALL_ERRORS: o->retry_all = true; break;
		case OPT_COMPRESSED:
			fprintf(stderr, "uscurl: option --compressed: content decoding is not built into "
				"uscurl (it would need zlib, which ustack does not depend on)\n");
			return HC_FAILED_INIT;
		case 'C': {
			if (strcmp(optarg, "-") == 0) {
				o->resume = o->resume_current = true;
				break;
			}
			char *end;
			long long v = strtoll(optarg, &end, 10);
			if (*end || end == optarg || v < 0)
				return bad_number(argv, optind, optarg, !*end && end != optarg);
			o->resume = true;
			o->resume_current = false;
			o->resume_from = v;
			break;
		}
		case 'r': {
			static char fixed[48];
			if (!strchr(optarg, '-')) {
				char *end;
				long long v = strtoll(optarg, &end, 10);
				if (*end || end == optarg || v < 0) {
					uscurl_warn("unsupported range point");
					return HC_FAILED_INIT;
				}
				uscurl_warn("A specified range MUST include at least one dash (-). "
					    "Appending one for you!");
				snprintf(fixed, sizeof fixed, "%lld-", v);
				o->range = fixed;
				break;
			}
			if (strspn(optarg, "0123456789-,") != strlen(optarg))
				uscurl_warn("Invalid character is found in given range. A specified range "
					    "MUST have only digits in 'start'-'stop'. The server's response to "
					    "this request is uncertain.");
			o->range = optarg;
			break;
		}
		case OPT_RETRY:
		case OPT_MAX_REDIRS: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || end == optarg || v < (opt == OPT_RETRY ? 0 : -1))
				return bad_number(argv, optind, optarg, !*end && end != optarg);
			*(opt == OPT_RETRY ? &o->retry : &o->max_redirs) = v;
			break;
		}
		case OPT_RETRY_DELAY:
			if ((r = parse_secs(optarg, &o->retry_delay)) < 0)
				return bad_number(argv, optind, optarg, r == -2);
			break;
		case OPT_RETRY_MAX_TIME:
			if ((r = parse_secs(optarg, &o->retry_max_time)) < 0)
				return bad_number(argv, optind, optarg, r == -2);
			break;
		case OPT_LIMIT_RATE:
			if (parse_rate(optarg, &o->limit_rate) < 0)
				return HC_FAILED_INIT;
			break;
		case 'H':
			if (o->nheaders == MAX_HEADERS) {
				fprintf(stderr, "uscurl: -H: at most %d headers\n", MAX_HEADERS);
				return HC_FAILED_INIT;
			}
			if (!hc_header_arg_ok(optarg)) {
				fprintf(stderr, "uscurl: -H: expected 'Name: value', 'Name:' or 'Name;', "
					"got '%s'\n", optarg);
				return HC_FAILED_INIT;
			}
			o->headers[o->nheaders++] = optarg;
			break;
		case 'd':
		case OPT_DATA_BINARY:
		case OPT_DATA_RAW:
			if (add_data(o, optarg, opt) < 0)
				return HC_FAILED_INIT;      /* out of memory */
			break;
		case OPT_DATA_URLENCODE:
			if (add_urlencoded(o, optarg) < 0)
				return HC_FAILED_INIT;
			break;
		case 'm':
			if ((r = parse_secs(optarg, &o->max_time)) < 0)
				return bad_number(argv, optind, optarg, r == -2);
			break;
		case OPT_CONNECT_TIMEOUT:
			if ((r = parse_secs(optarg, &o->connect_timeout)) < 0)
				return bad_number(argv, optind, optarg, r == -2);
			break;
		case 'w':
			free(o->writeout);
			o->writeout = optarg[0] == '@' ? read_writeout(optarg + 1) : strdup(optarg);
			if (!o->writeout && optarg[0] == '@')
				uscurl_warn("Failed to read %s", optarg + 1);   /* curl goes on */
			break;
		case OPT_RESOLVE:
			if (add_resolve(o, optarg) < 0)
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
	cli->verbose = cli->verbose > 1;
	if (argc - optind != 1) {
		fprintf(stderr, argc == optind ? "uscurl: no URL specified\n"
					       : "uscurl: exactly one URL, please\n");
		fprintf(stderr, "uscurl: try 'uscurl --help' for more information\n");
		return HC_FAILED_INIT;
	}
	o->url = argv[optind];
	/* curl's check: one method per command line (-G makes -d a GET). */
	const char *methods[3];
	int nm = 0;
	if (o->head)
		methods[nm++] = "HEAD (-I, --head)";
	if (o->has_data && !o->get)
		methods[nm++] = "POST (-d, --data)";
	if (o->upload)
		methods[nm++] = "PUT (-T, --upload-file)";
	if (nm > 1) {
		fprintf(stderr, "uscurl: You can only select one HTTP request method! "
			"You asked for both %s and %s.\n", methods[0], methods[1]);
		return HC_FAILED_INIT;
	}
	if (o->fail && o->fail_with_body) {
		fprintf(stderr, "uscurl: You must select either --fail or --fail-with-body, not both.\n");
		return HC_FAILED_INIT;
	}
	o->url_owned = effective_url(o);
	if (!o->url_owned)
		return HC_FAILED_INIT;
	o->url = o->url_owned;
	return -1;
}

void uscurl_opts_free(struct opts *o)
{
	free(o->data);
	free(o->writeout);
	free(o->url_owned);
}
