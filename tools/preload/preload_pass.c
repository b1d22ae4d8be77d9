/*
 * preload_pass.c — USTACK_PASSTHROUGH: destinations that stay with the
 * kernel (doc/PRELOAD.md "Pass-through").
 *
 * USTACK_PASSTHROUGH is a list of IPv4 prefixes, separated by commas or
 * spaces: `loopback` (127.0.0.0/8), `A.B.C.D` (one address) or
 * `A.B.C.D/N`. socket() cannot know where a socket will go, so every
 * AF_INET socket starts as a ustack socket; the first bind() to a listed
 * address, connect() to one, or sendto()/sendmsg() to one (a datagram
 * socket) *moves* it to the kernel while it is still fresh (nothing
 * connected, listened or sent over ustack, one descriptor): a kernel
 * socket of the same type is made, given the options the program set so
 * far (setsockopt calls are remembered until then), O_NONBLOCK, the bound
 * address if any, and dup3()-ed onto the program's descriptor number
 * (keeping its close-on-exec flag), and the ustack socket is closed. From
 * then on every call on that number goes to libc untouched.
 *
 * Locks: none of its own. The list is written once by the constructor
 * (preload_pass_init) before any other thread of the program can call in;
 * the move itself takes the descriptor table's lock (preload.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload.h"

#define PASS_MAX 32

static struct { uint32_t net, mask; } pass[PASS_MAX];  /* host byte order */
static int npass;
static int pass_bad;    /* USTACK_PASSTHROUGH did not parse: AF_INET sockets fail */

/* One entry: "loopback", "A.B.C.D" or "A.B.C.D/N"; 0 or -1. */
static int pass_add(const char *tok)
{
	char addr[32];
	int bits = 32;
	if (npass == PASS_MAX)
		return -1;
	if (strcmp(tok, "loopback") == 0) {
		pass[npass].net = 0x7f000000u;
		pass[npass++].mask = 0xff000000u;
		return 0;
	}
	const char *slash = strchr(tok, '/');
	size_t alen = slash ? (size_t)(slash - tok) : strlen(tok);
	if (alen == 0 || alen >= sizeof addr)
		return -1;
	memcpy(addr, tok, alen);
	addr[alen] = 0;
	if (slash) {
		char *end;
		long b = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || b < 0 || b > 32)
			return -1;
		bits = (int)b;
	}
	struct in_addr a;
	if (inet_pton(AF_INET, addr, &a) != 1)
		return -1;
	uint32_t mask = bits ? 0xffffffffu << (32 - bits) : 0;
	pass[npass].net = ntohl(a.s_addr) & mask;
	pass[npass++].mask = mask;
	return 0;
}

void preload_pass_init(void)
{
	const char *env = getenv("USTACK_PASSTHROUGH");
	if (!env)
		return;
	char *copy = strdup(env);
	if (!copy) {
		pass_bad = 1;
		return;
	}
	char *save = NULL;
	for (char *tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
		if (pass_add(tok) < 0) {
			fprintf(stderr, "libustack-preload: USTACK_PASSTHROUGH: '%s' is not 'loopback', "
				"an IPv4 address or ADDRESS/BITS (at most %d entries)\n", tok, PASS_MAX);
			pass_bad = 1;
			break;
		}
	free(copy);
}

int preload_pass_bad(void)
{
	return pass_bad;
}

int preload_pass_match(const struct sockaddr *a, socklen_t len)
{
	if (!npass || !a || len < (socklen_t)sizeof(struct sockaddr_in) || a->sa_family != AF_INET)
		return 0;
	uint32_t ip = ntohl(((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr);
	for (int i = 0; i < npass; i++)
		if ((ip & pass[i].mask) == pass[i].net)
			return 1;
	return 0;
}
