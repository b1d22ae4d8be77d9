/*
 * replay_script.h — the application side of a usreplay run: a YAML list
 * of socket operations, each at a time on the stack's virtual clock.
 *
 *   - {at: 0.5, op: tcp_listen, port: 80, backlog: 5}
 *   - {at: 1.2, op: tcp_accept, as: c}
 *   - {at: 1.3, op: send, on: c, data: "hello\n"}
 *
 * The file is either such a list or a mapping {settle: SECS, events: LIST};
 * an empty file has no events. `at` is seconds from the start of the trace
 * (virtual time 1 s + at). doc/man/usreplay.1 lists every op and its keys.
 * Sockets are non-blocking (the stack is deterministic: nothing waits); an
 * op that cannot complete now is a script error, reported as FILE:LINE:
 * message, and counted (usreplay then exits 1).
 */
#ifndef US_TOOLS_REPLAY_SCRIPT_H
#define US_TOOLS_REPLAY_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ustack/ustack.h"

struct rp_script;

/*
 * Parse path. On error returns NULL and writes "PATH:LINE:COLUMN: message"
 * into err.
 */
struct rp_script *rp_script_load(const char *path, char *err, size_t errlen);

/* Number of events, and the time of event i (ns from the trace start); in file order. */
size_t rp_script_count(const struct rp_script *s);
uint64_t rp_script_at(const struct rp_script *s, size_t i);

/* The file's settle: value in ns, or -1 if it gives none. */
int64_t rp_script_settle(const struct rp_script *s);

/*
 * Run event i on st now. Script errors are printed to stderr as
 * FILE:LINE: message and counted. log (may be NULL) gets a line per op.
 */
void rp_script_run(struct rp_script *s, size_t i, us_stack *st, FILE *log);

/*
 * End of the run: collect the results of resolve ops still running (they
 * use threads: waits at most a few seconds of real time) and check them.
 * Call before stopping the stack.
 */
void rp_script_finish(struct rp_script *s, us_stack *st, FILE *log);

/* Script errors so far. */
int rp_script_errors(const struct rp_script *s);

/* Close every socket it opened and free it. The stack must be stopped first. */
void rp_script_free(struct rp_script *s, us_stack *st);

/* The byte at offset k of a "bytes: N" stream (printable ASCII, period 95). */
static inline uint8_t rp_pattern_byte(uint64_t k)
{
	return (uint8_t)(32 + k % 95);
}

#endif
