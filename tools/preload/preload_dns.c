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
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * gethostbyname family: the same rule as getaddrinfo (the stack's resolver
 * when the config has hosts: or nameservers:, libc otherwise and for
 * numeric names), answering AF_INET only. The _r forms fill the caller's
 * buffer as glibc does (ERANGE when it is too small); gethostbyname and
 * gethostbyname2 use a buffer per thread (glibc's is per process and not
 * thread-safe; a per-thread one is at least as good).
 */
static int (*real_gethostbyname_r)(const char *, struct hostent *, char *, size_t,
				   struct hostent **, int *);
static int (*real_gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t,
				    struct hostent **, int *);

static void hostent_resolve(void)
{
	if (!real_gethostbyname2_r) {
		*(void **)&real_gethostbyname_r = dlsym(RTLD_NEXT, "gethostbyname_r");
		*(void **)&real_gethostbyname2_r = dlsym(RTLD_NEXT, "gethostbyname2_r");
	}
}

/* Copy the IPv4 answers of ai into ret/buf; 0, or ERANGE when buf is too small. */
static int hostent_fill(const char *name, const struct addrinfo *ai, struct hostent *ret,
			char *buf, size_t len)
{
	size_t n = 0, namelen = strlen(name) + 1;
	for (const struct addrinfo *p = ai; p; p = p->ai_next)
		if (p->ai_family == AF_INET)
			n++;
	/* Layout: aliases[1], addr_list[n + 1], n addresses, the name. */
	size_t need = sizeof(char *) + (n + 1) * sizeof(char *) + n * 4 + namelen;
	uintptr_t pad = (-(uintptr_t)buf) & (sizeof(char *) - 1);
	if (len < pad + need)
		return ERANGE;
	char **aliases = (char **)(void *)(buf + pad);
	char **list = aliases + 1;
	char *addrs = (char *)(list + n + 1);
	char *nm = addrs + n * 4;
	aliases[0] = NULL;
	size_t i = 0;
	for (const struct addrinfo *p = ai; p; p = p->ai_next)
		if (p->ai_family == AF_INET) {
			/* getaddrinfo lists an address once per socket type: keep the first. */
			const void *a = &((const struct sockaddr_in *)(const void *)p->ai_addr)->sin_addr;
			size_t j;
			for (j = 0; j < i && memcmp(addrs + j * 4, a, 4) != 0; j++)
				;
			if (j < i)
				continue;
			memcpy(addrs + i * 4, a, 4);
			list[i] = addrs + i * 4;
			i++;
		}
	list[i] = NULL;
	memcpy(nm, name, namelen);
	ret->h_name = nm;
	ret->h_aliases = aliases;
	ret->h_addrtype = AF_INET;
	ret->h_length = 4;
	ret->h_addr_list = list;
	return 0;
}

EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
			    struct hostent **result, int *herr)
{
	hostent_resolve();
	if (!name || af != AF_INET || numeric(name) || !preload_has_resolver())
		return real_gethostbyname2_r(name, af, ret, buf, len, result, herr);
	*result = NULL;
	struct addrinfo h = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	int rc = us_getaddrinfo(preload_stack_now(), name, NULL, &h, &ai);
	PDBG("gethostbyname(%s) = %d%s%s", name, rc, rc ? " " : "", rc ? us_resolver_detail() : "");
	if (rc) {
		*herr = rc == EAI_NONAME || rc == EAI_NODATA ? HOST_NOT_FOUND
			: rc == EAI_AGAIN ? TRY_AGAIN : NO_RECOVERY;
		return rc == EAI_SYSTEM ? errno : 0;   /* glibc: 0 with *result NULL when not found */
	}
	int e = hostent_fill(name, ai, ret, buf, len);
	us_freeaddrinfo(ai);
	if (e) {
		*herr = NETDB_INTERNAL;
		errno = e;
		return e;
	}
	*herr = 0;
	*result = ret;
	return 0;
}

EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len,
			   struct hostent **result, int *herr)
{
	return gethostbyname2_r(name, AF_INET, ret, buf, len, result, herr);
}

EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	static _Thread_local struct hostent he;
	static _Thread_local char buf[8192];
	struct hostent *r = NULL;
	int herr = 0;
	int rc = gethostbyname2_r(name, af, &he, buf, sizeof buf, &r, &herr);
	if (!r) {
		h_errno = herr ? herr : NO_RECOVERY;
		if (rc)
			errno = rc;
	}
	return r;
}

EXPORT struct hostent *gethostbyname(const char *name)
{
	return gethostbyname2(name, AF_INET);
}
