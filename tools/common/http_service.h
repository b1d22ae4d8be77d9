/*
 * http_service.h — ustackd's `http` service: a static file server for the
 * files under one directory, speaking HTTP/1.1 (RFC 9110 semantics, RFC
 * 9112 message syntax) with GET and HEAD only.
 *
 * Design (doc/HTTP.md has the whole of it): HTTP_WORKERS application
 * threads, each running its own us_poll loop over the shared non-blocking
 * listening socket and the connections it accepted. A connection is a small
 * state machine (read the request head, send the response, optionally
 * linger before closing) whose state, including a head buffer and a body
 * buffer, is allocated once at accept: file bodies go out in
 * HTTP_BODY_BUF-sized pread() chunks, never whole files. Paths are resolved
 * one component at a time with openat(O_PATH | O_NOFOLLOW) below a
 * directory descriptor of the root, so nothing outside the root, and no
 * symbolic link, is ever served.
 *
 * The limits below are the service's only tunables; doc/HTTP.md lists them.
 */
#ifndef US_TOOLS_HTTP_SERVICE_H
#define US_TOOLS_HTTP_SERVICE_H

#include "ustack/ustack.h"

#define HTTP_WORKERS       2       /* service threads, each with its own poll loop */
#define HTTP_MAX_CONNS     1024    /* connections served per worker (max_connections caps all) */
#define HTTP_REJECT_MAX    64      /* per worker: over the limit, answered 503; more are closed */
#define HTTP_RETRY_AFTER_S 1       /* the 503's Retry-After, seconds */
#define HTTP_HEAD_MAX      8192    /* request line + header fields, bytes (else 400) */
#define HTTP_URI_MAX       4096    /* request-target, bytes (else 414) */
#define HTTP_BODY_BUF      65536   /* per connection: response bytes between pread and send */
#define HTTP_IDLE_S        15      /* a connection waiting for (the rest of) a request head */
#define HTTP_SEND_STALL_S  60      /* a response that makes no progress at all */
#define HTTP_LINGER_S      2       /* after our FIN: wait for the client's, then close */

_Static_assert(HTTP_URI_MAX < HTTP_HEAD_MAX, "the URI limit must fit in the head limit");
_Static_assert(HTTP_BODY_BUF >= 1024, "the body buffer must hold any response head");
_Static_assert(HTTP_WORKERS >= 1 && HTTP_MAX_CONNS >= 1, "at least one worker and connection");
_Static_assert(HTTP_WORKERS * HTTP_MAX_CONNS == 2048,
	       "config_internal.h's CFG_HTTP_MAX_CONNECTIONS is the service's maximum");
_Static_assert(HTTP_LINGER_S < HTTP_IDLE_S, "lingering is shorter than idling");

struct us_http;

/*
 * Open c->root, listen on TCP port c->port and start the workers. Per-request
 * lines are logged when log_level is US_LOG_DEBUG or above. Returns NULL after
 * printing a message (root not a directory, port in use, ...).
 */
struct us_http *us_http_start(us_stack *st, const struct us_service_config *c,
			      enum us_log_level log_level);

/* Stop the workers (within ~100 ms), close every connection and the listener. */
void us_http_stop(struct us_http *h);

#endif
