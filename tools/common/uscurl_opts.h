/*
 * uscurl_opts.h — uscurl's command line: curl 7.88's options (the subset
 * doc/man/uscurl.1 lists) into a struct opts, with curl's checks and
 * messages. uscurl.c does the transfer.
 */
#ifndef US_TOOLS_USCURL_OPTS_H
#define US_TOOLS_USCURL_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "tools/common/cli.h"
#include "tools/common/http_client.h"

#define USCURL_VERSION "0.1"
#define MAX_HEADERS 64
#define MAX_RESOLVE 16

struct resolve_entry {
	char host[HC_HOST_MAX];
	int port;                       /* -1: any ("*") */
	struct in_addr addr;
};

/* What the command line asks for. */
struct opts {
	const char *url;                /* the URL to ask for (after -G and -T's changes) */
	char *url_owned;                /* the string url points to (free it) */
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
	bool get;                       /* -G: the data goes into the URL's query */
	const char *upload;             /* -T FILE ("-": standard input) */
	const char *range;              /* -r */
	bool resume, resume_current;    /* -C N / -C - */
	int64_t resume_from;
	long retry;                     /* --retry N */
	double retry_delay, retry_max_time;     /* seconds, 0: curl's defaults */
	bool retry_connrefused, retry_all;
	const char *dump_header;        /* -D */
	bool fail_with_body;
	bool no_meter;                  /* --no-progress-meter */
	bool bar;                       /* -#: the progress bar instead of the meter */
	uint64_t limit_rate;            /* --limit-rate, bytes per second, 0: none */
	double max_time, connect_timeout;   /* seconds, 0: none / default */
	char *writeout;
	const char *headers[MAX_HEADERS];
	int nheaders;
	struct resolve_entry resolves[MAX_RESOLVE];
	int nresolves;
};

/*
 * Parse the command line into o (the stack's own options go to cli).
 * Returns -1 to go on with the transfer, or the exit status to end with
 * (0 after --help and --version, 2 or 26 after a message on stderr).
 */
int uscurl_options(int argc, char **argv, struct us_cli *cli, struct opts *o);

/* curl's "Warning: " message on stderr, wrapped at 79 columns as curl does. */
void uscurl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Free what uscurl_options allocated. */
void uscurl_opts_free(struct opts *o);

#endif
