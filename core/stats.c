/*
 * stats.c — counter names and the netstat-style printout.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stack.h"

static const char *const layers[] = {
#define X(id, layer, desc) layer,
	US_STAT_LIST(X)
#undef X
};
static const char *const descs[] = {
#define X(id, layer, desc) desc,
	US_STAT_LIST(X)
#undef X
};
static const char *const names[] = {
#define X(id, layer, desc) #id,
	US_STAT_LIST(X)
#undef X
};

static const char *const if_descs[] = {
#define X(id, desc) desc,
	US_IFSTAT_LIST(X)
#undef X
};

const char *us_ifstat_desc(enum us_ifstat_id id)
{
	return id < US_IFSTAT__COUNT ? if_descs[id] : "?";
}

int us_stack_iface_stats(const us_stack *st, int ifindex, uint64_t out[US_IFSTAT__COUNT])
{
	if (!st || ifindex < 0 || (ifindex >= st->nifs && ifindex != US_LO_IFINDEX) || !out) {
		errno = EINVAL;
		return -1;
	}
	const struct us_ifstat_shard *sh = st->ifs[ifindex].stats;
	for (int i = 0; i < US_IFSTAT__COUNT; i++) {
		uint64_t v = 0;
		for (int k = 0; k <= US_TSLOTS; k++)
			v += atomic_load_explicit(&sh[k].v[i], memory_order_relaxed);
		out[i] = v;
	}
	return 0;
}

int us_stack_iface_queue_frames(const us_stack *st, int ifindex, uint64_t out[US_MAX_QUEUES])
{
	if (!st || ifindex < 0 || (ifindex >= st->nifs && ifindex != US_LO_IFINDEX) || !out) {
		errno = EINVAL;
		return -1;
	}
	return us_netif_queue_frames(&((struct us_stack *)st)->ifs[ifindex], out);
}

const char *us_stat_layer(enum us_stat_id id) { return id < US_STAT__COUNT ? layers[id] : "?"; }
const char *us_stat_desc(enum us_stat_id id) { return id < US_STAT__COUNT ? descs[id] : "?"; }

const char *us_stat_name(enum us_stat_id id)
{
	static _Thread_local char buf[64];
	if (id >= US_STAT__COUNT)
		return "?";
	size_t i;
	for (i = 0; names[id][i] && i < sizeof buf - 1; i++)
		buf[i] = (char)tolower((unsigned char)names[id][i]);
	buf[i] = '\0';
	return buf;
}

/*
 * The counters are sharded per thread slot (stack.h): a value is the sum
 * of its US_TSLOTS + 1 shards, read with relaxed loads while the owners
 * keep adding. Each shard only grows, so a sum read later is never smaller
 * than one read earlier by the same thread (per counter; two counters read
 * in one call are not one instant, as they never were).
 */
void us_stack_stats(const us_stack *st, uint64_t out[US_STAT__COUNT])
{
	for (int i = 0; i < US_STAT__COUNT; i++)
		out[i] = 0;
	for (int k = 0; k <= US_TSLOTS; k++)
		for (int i = 0; i < US_STAT__COUNT; i++)
			out[i] += atomic_load_explicit(&st->stats[k].v[i], memory_order_relaxed);
}

uint64_t us_stat_sum(const struct us_stack *st, enum us_stat_id id)
{
	uint64_t v = 0;
	for (int k = 0; k <= US_TSLOTS; k++)
		v += atomic_load_explicit(&st->stats[k].v[id], memory_order_relaxed);
	return v;
}

uint64_t us_stack_stat(const us_stack *st, enum us_stat_id id)
{
	if (id >= US_STAT__COUNT)
		return 0;
	return us_stat_sum(st, id);
}

void us_stats_zero(struct us_stack *st)
{
	for (int k = 0; k <= US_TSLOTS; k++)
		for (int i = 0; i < US_STAT__COUNT; i++)
			atomic_store_explicit(&st->stats[k].v[i], 0, memory_order_relaxed);
	size_t n = (size_t)(US_MAX_IFACES + 1) * (US_TSLOTS + 1);
	for (size_t k = 0; k < n; k++)
		for (int i = 0; i < US_IFSTAT__COUNT; i++)
			atomic_store_explicit(&st->ifstats[k].v[i], 0, memory_order_relaxed);
}

void us_stack_stats_print(const us_stack *st, FILE *out)
{
	uint64_t v[US_STAT__COUNT];
	us_stack_stats(st, v);
	const char *layer = "";
	for (int i = 0; i < US_STAT__COUNT; i++) {
		if (strcmp(layer, layers[i]) != 0) {
			layer = layers[i];
			fprintf(out, "%s:\n", layer);
		}
		fprintf(out, "    %llu %s\n", (unsigned long long)v[i], descs[i]);
	}
	for (int k = 0; k <= st->nifs; k++) {
		int n = k < st->nifs ? k : US_LO_IFINDEX;   /* the built-in lo last */
		uint64_t iv[US_IFSTAT__COUNT];
		us_stack_iface_stats(st, n, iv);
		fprintf(out, "interface %s:\n", st->ifs[n].name);
		for (int i = 0; i < US_IFSTAT__COUNT; i++)
			fprintf(out, "    %llu %s\n", (unsigned long long)iv[i], if_descs[i]);
		uint64_t qv[US_MAX_QUEUES];
		int nq = us_stack_iface_queue_frames(st, n, qv);
		for (int q = 0; nq > 1 && q < nq; q++)
			fprintf(out, "    %llu frames received on queue %d\n", (unsigned long long)qv[q], q);
	}
	fflush(out);
}
