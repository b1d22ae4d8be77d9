/*
 * preload_dns.c — name resolution in libustack-preload.so: getaddrinfo and
 * freeaddrinfo. When the stack's config has hosts: or nameservers: entries,
 * names are answered by the stack's resolver (us_getaddrinfo: hosts:
 * first, then DNS over the stack's own UDP), so that a program's lookups
 * leave through the same stack as its connections. Numeric addresses, a
 * NULL node (a passive or loopback address) and AF_INET6-only requests
 * need no network and stay with libc, as does everything when the config
 * has neither entry. The results the stack made are remembered so that
 * freeaddrinfo hands each list to the allocator that made it.
 *
 * Locks: made_lock protects the list of the stack's results.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>

#include "preload.h"

#define EXPORT __attribute__((visibility("default")))

struct made {
	struct addrinfo *ai;
	struct made *next;
};
static pthread_mutex_t made_lock = PTHREAD_MUTEX_INITIALIZER;
static struct made *made_list;

static int (*real_getaddrinfo)(const char *, const char *, const struct addrinfo *,
			       struct addrinfo **);
static void (*real_freeaddrinfo)(struct addrinfo *);

static void dns_resolve(void)
{
	if (!real_getaddrinfo) {
		*(void **)&real_freeaddrinfo = dlsym(RTLD_NEXT, "freeaddrinfo");
		*(void **)&real_getaddrinfo = dlsym(RTLD_NEXT, "getaddrinfo");
	}
}

static int numeric(const char *node)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, node, buf) == 1 || inet_pton(AF_INET6, node, buf) == 1;
}

EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		       struct addrinfo **res)
{
	dns_resolve();
	if (!node || numeric(node) || (hints && hints->ai_family == AF_INET6) ||
	    !preload_has_resolver())
		return real_getaddrinfo(node, service, hints, res);
	struct made *m = malloc(sizeof *m);
	if (!m)
		return EAI_MEMORY;
	struct addrinfo h = { .ai_family = AF_INET };
	if (hints) {
		h = *hints;
		h.ai_family = AF_INET;  /* the stack speaks IPv4 only */
		h.ai_flags &= ~(AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | AI_IDN |
				AI_CANONIDN);
	}
	int rc = us_getaddrinfo(preload_stack_now(), node, service, &h, res);
	PDBG("getaddrinfo(%s) = %d%s%s", node, rc, rc ? " " : "", rc ? us_resolver_detail() : "");
	if (rc) {
		free(m);
		return rc;
	}
	m->ai = *res;
	pthread_mutex_lock(&made_lock);
	m->next = made_list;
	made_list = m;
	pthread_mutex_unlock(&made_lock);
	return 0;
}

EXPORT void freeaddrinfo(struct addrinfo *ai)
{
	dns_resolve();
	struct made *found = NULL;
	pthread_mutex_lock(&made_lock);
	for (struct made **pp = &made_list; *pp; pp = &(*pp)->next)
		if ((*pp)->ai == ai) {
			found = *pp;
			*pp = found->next;
			break;
		}
	pthread_mutex_unlock(&made_lock);
	if (found) {
		us_freeaddrinfo(ai);
		free(found);
	} else {
		real_freeaddrinfo(ai);
	}
}
