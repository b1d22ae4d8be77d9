/*
 * replay_script_int.h — what the two halves of usreplay's script code
 * share: replay_script_load.c (YAML to events) and replay_script.c
 * (running them). Not for other files.
 */
#ifndef US_TOOLS_REPLAY_SCRIPT_INT_H
#define US_TOOLS_REPLAY_SCRIPT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "tools/common/replay_script.h"

#define NAME_MAX_LEN   32
#define MAX_NAMES      64
#define MAX_RESOLVES   8
#define RESOLVE_WAIT_S 10     /* real seconds a resolve may take to send or finish */

enum op {
	OP_TCP_LISTEN, OP_TCP_ACCEPT, OP_TCP_CONNECT, OP_SEND, OP_RECV, OP_SHUTDOWN, OP_CLOSE,
	OP_SETSOCKOPT, OP_SO_ERROR, OP_UDP_BIND, OP_UDP_SEND, OP_UDP_RECV, OP_PING, OP_PING_RECV,
	OP_RESOLVE, OP__COUNT
};

struct opdef {
	const char *name;
	const char *keys[24];       /* allowed keys besides at and op */
	const char *required[4];
};
extern const struct opdef rp_ops[OP__COUNT];

struct sockopts {
	int nodelay, keepalive, reuseaddr;              /* -1: not given */
	int rcvbuf, sndbuf, linger, keepidle, keepintvl, keepcnt, maxseg;  /* -1: not given */
};

struct event {
	uint64_t at;                /* ns from the trace start */
	int line;
	enum op op;
	char as[NAME_MAX_LEN], on[NAME_MAX_LEN];
	int port;                   /* -1: not given */
	int backlog;
	struct sockaddr_in to, from;
	bool have_from;
	uint8_t *data;              /* data / hex: the bytes; NULL with bytes: N */
	size_t dlen;                /* data length, or N of bytes: N */
	bool pattern_data;          /* bytes: N */
	bool have_data;
	bool have_bytes;            /* recv bytes: N given */
	uint8_t *expect;            /* recv / udp_recv expect / expect_hex */
	size_t elen;
	bool have_expect;
	bool pattern;               /* recv: check against the pattern */
	bool eof;                   /* recv: expect end of stream */
	int expect_error;           /* errno (or EAI_* for resolve); 0: success expected */
	int how;
	struct sockopts so;
	bool have_so;
	int seq, size, ttl;
	char name[256];
	struct in_addr expect_addr;
	bool have_expect_addr;
};

struct named {
	char name[NAME_MAX_LEN];
	int fd;
	bool udp;
	uint64_t sent, rcvd;        /* stream offsets for the pattern */
};

struct resolve_job {
	pthread_t th;
	us_stack *st;
	const struct event *ev;
	pthread_mutex_t mu;         /* protects done and the results below */
	pthread_cond_t cv;
	bool done, checked;
	int rc;
	struct in_addr addr;
	char detail[256];
};

struct rp_script {
	char path[256];
	struct event *ev;
	size_t nev;
	int64_t settle;
	struct named names[MAX_NAMES];
	int nnames;
	int last_listener;          /* index into names, -1 none */
	int ping_h;                 /* -1: not opened */
	uint16_t ping_id;
	struct resolve_job *jobs[MAX_RESOLVES];
	int njobs;
	int errors;
};

/* The errno name of e ("ECONNRESET"), "E?" if not in the table. */
const char *rp_errname(int e);

#endif
