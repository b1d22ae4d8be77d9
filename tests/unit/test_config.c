/*
 * test_config.c — the YAML configuration module (config/).
 *
 * Every expected error below was worked out by hand from the YAML text next
 * to it: lines and columns are 1-based and count characters; the line
 * numbers in the comments at the right of each YAML line are that line's
 * number. Most tests compare only the "file:line:col: start of message"
 * prefix, so that message wording can grow without breaking them; a few
 * compare a whole message.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "ustack/config.h"
#include "harness.h"

static struct us_config cfg, cfg2;
static char err[1024];

static int load(const char *yaml)
{
	return us_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof err);
}

/* Does err start with want? Print both when not, to make failures readable. */
static int err_is(const char *want)
{
	if (strncmp(err, want, strlen(want)) == 0)
		return 1;
	fprintf(stderr, "\n    want: %s\n    got:  %s\n", want, err);
	return 0;
}

#define EXPECT_OK(yaml)                                                        \
	do {                                                                   \
		int rc_ = load(yaml);                                          \
		if (rc_ != 0)                                                  \
			fprintf(stderr, "\n    unexpected error: %s\n", err); \
		CU_ASSERT_EQUAL(rc_, 0);                                       \
	} while (0)

#define EXPECT_ERR(yaml, want)                                                 \
	do {                                                                   \
		CU_ASSERT_EQUAL(load(yaml), -1);                               \
		CU_ASSERT(err_is(want));                                       \
	} while (0)

static uint32_t ip(const char *s)
{
	struct in_addr a;
	CU_ASSERT_EQUAL_FATAL(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

/* A valid interface section to put other sections next to. */
#define ETH0 \
	"interfaces:\n" \
	"  eth0: {backend: tap, device: tap0, addresses: [10.0.0.2/24]}\n"

/* ---- a full valid configuration ---------------------------------------- */

static const char FULL[] =
	"# every key of the schema\n"                                    /*  1 */
	"stack:\n"                                                        /*  2 */
	"  log_level: debug\n"                                            /*  3 */
	"  seed: 18446744073709551615\n"                                  /*  4 */
	"interfaces:\n"                                                   /*  5 */
	"  eth0:\n"                                                       /*  6 */
	"    backend: tap\n"                                              /*  7 */
	"    device: tap0\n"                                              /*  8 */
	"    macaddress: 02:00:00:00:00:AB\n"                             /*  9 */
	"    mtu: 9000\n"                                                 /* 10 */
	"    addresses: [10.0.0.2/24, 192.168.7.1/16]\n"                  /* 11 */
	"    capture: \"eth0 capture.pcap\"\n"                            /* 12 */
	"  p0:\n"                                                         /* 13 */
	"    backend: pair\n"                                             /* 14 */
	"    device: wire1\n"                                             /* 15 */
	"    addresses:\n"                                                /* 16 */
	"      - 172.16.0.1/30\n"                                         /* 17 */
	"    impair: {loss: 0.01, duplicate: .5, reorder: 1, corrupt: 1e-3,\n" /* 18 */
	"             delay_ms: 60000, jitter_ms: 5, rate_mbit: 100000}\n" /* 19 */
	"  lo: {backend: loopback, mtu: 576}\n"                           /* 20 */
	"  f0:\n"                                                         /* 21 */
	"    backend: pcap-file\n"                                        /* 22 */
	"    device: in.pcap\n"                                           /* 23 */
	"    output: out.pcap\n"                                          /* 24 */
	"  w1: {backend: pcap, device: eno1}\n"                           /* 25 */
	"routes:\n"                                                       /* 26 */
	"  - {to: default, via: 10.0.0.1, metric: 100}\n"                 /* 27 */
	"  - to: 10.9.0.0/16\n"                                           /* 28 */
	"    via: 99.0.0.1\n"                                             /* 29 */
	"    metric: 4294967295\n"                                        /* 30 */
	"    interface: eth0\n"                                           /* 31 */
	"  - {to: 1.2.3.4/32, interface: p0}\n"                           /* 32 */
	"arp:\n"                                                          /* 33 */
	"  timeout_s: 86400\n"                                            /* 34 */
	"  static:\n"                                                     /* 35 */
	"    - {address: 10.0.0.9, mac: 02:00:00:00:00:09}\n"             /* 36 */
	"    - address: 172.16.0.2\n"                                     /* 37 */
	"      mac: 0a:bc:de:f0:12:34\n"                                  /* 38 */
	"nameservers:\n"                                                  /* 39 */
	"  addresses: [10.0.0.1, 192.168.7.53, 8.8.8.8]\n"                /* 40 */
	"  search: [test, Example.org, a-1.b2.c]\n"                       /* 41 */
	"  timeout_ms: 60000\n"                                           /* 42 */
	"  attempts: 10\n"                                                /* 43 */
	"hosts:\n"                                                        /* 44 */
	"  files.test: 10.0.0.1\n"                                        /* 45 */
	"  WWW.Example.org: 10.0.0.80\n"                                  /* 46 */
	"  \"null\": 172.16.0.9\n"                                        /* 47 */
	"tcp:\n"                                                          /* 48 */
	"  mss: 88\n"                                                     /* 49 */
	"  sndbuf: 4096\n"                                                /* 50 */
	"  rcvbuf: 67108864\n"                                            /* 51 */
	"  nodelay: true\n"                                               /* 52 */
	"  delayed_ack_ms: 0\n"                                           /* 53 */
	"  rto_min_ms: 1\n"                                               /* 54 */
	"  rto_initial_ms: 60000\n"                                       /* 55 */
	"  retries: 255\n"                                                /* 56 */
	"  syn_retries: 1\n"                                              /* 57 */
	"  time_wait_s: 0\n"                                              /* 58 */
	"  congestion: newreno\n"                                         /* 59 */
	"  window_scaling: false\n"                                       /* 60 */
	"  timestamps: false\n"                                           /* 61 */
	"  sack: false\n"                                                 /* 62 */
	"  syncookies: false\n"                                           /* 63 */
	"services:\n"                                                     /* 64 */
	"  - {type: echo, proto: tcp, port: 7}\n"                         /* 65 */
	"  - {type: echo, proto: udp, port: 7}\n"                         /* 66 */
	"  - type: discard\n"                                             /* 67 */
	"    port: 9\n"                                                   /* 68 */
	"  - {type: chargen, proto: udp, port: 19}\n"                     /* 69 */
	"  - {type: http, port: 65535, root: /srv/www}\n";                /* 70 */

/* The default TCP section, as us_config_dump writes it. */
static const char TCP_DEFAULTS[] =
	"tcp:\n"
	"  mss: 1460\n"
	"  sndbuf: 262144\n"
	"  rcvbuf: 262144\n"
	"  nodelay: false\n"
	"  delayed_ack_ms: 40\n"
	"  rto_min_ms: 200\n"
	"  rto_initial_ms: 1000\n"
	"  retries: 15\n"
	"  syn_retries: 6\n"
	"  time_wait_s: 60\n"
	"  congestion: cubic\n"
	"  window_scaling: true\n"
	"  timestamps: true\n"
	"  sack: true\n"
	"  rack: true\n"
	"  syncookies: true\n";

/* Every field of cfg.tcp has its default. */
static void check_tcp_defaults(const struct us_tcp_config *t)
{
	CU_ASSERT_EQUAL(t->mss, 1460);
	CU_ASSERT_EQUAL(t->sndbuf, 262144);
	CU_ASSERT_EQUAL(t->rcvbuf, 262144);
	CU_ASSERT(!t->nodelay);
	CU_ASSERT_EQUAL(t->delayed_ack_ms, 40);
	CU_ASSERT_EQUAL(t->rto_min_ms, 200);
	CU_ASSERT_EQUAL(t->rto_initial_ms, 1000);
	CU_ASSERT_EQUAL(t->retries, 15);
	CU_ASSERT_EQUAL(t->syn_retries, 6);
	CU_ASSERT_EQUAL(t->time_wait_s, 60);
	CU_ASSERT_STRING_EQUAL(t->congestion, "cubic");
	CU_ASSERT(t->window_scaling);
	CU_ASSERT(t->timestamps);
	CU_ASSERT(t->sack);
	CU_ASSERT(t->rack);
	CU_ASSERT(t->syncookies);
}

static void test_full_config(void)
{
	EXPECT_OK(FULL);
	CU_ASSERT_STRING_EQUAL(cfg.source, "t.yaml");
	CU_ASSERT_EQUAL(cfg.log_level, US_LOG_DEBUG);
	CU_ASSERT(cfg.seed_set);
	CU_ASSERT_EQUAL(cfg.seed, UINT64_MAX);
	CU_ASSERT_EQUAL_FATAL(cfg.nifaces, 5);

	const struct us_iface_config *e = &cfg.ifaces[0];
	CU_ASSERT_STRING_EQUAL(e->name, "eth0");
	CU_ASSERT_EQUAL(e->backend, US_BACKEND_TAP);
	CU_ASSERT_STRING_EQUAL(e->device, "tap0");
	CU_ASSERT_STRING_EQUAL(e->output, "");
	CU_ASSERT(e->mac_set);
	static const uint8_t mac0[6] = { 0x02, 0, 0, 0, 0, 0xab };
	CU_ASSERT_EQUAL(memcmp(e->mac, mac0, 6), 0);
	CU_ASSERT_EQUAL(e->mtu, 9000);
	CU_ASSERT_EQUAL_FATAL(e->naddrs, 2);
	CU_ASSERT_EQUAL(e->addrs[0].addr.s_addr, ip("10.0.0.2"));
	CU_ASSERT_EQUAL(e->addrs[0].prefix, 24);
	CU_ASSERT_EQUAL(e->addrs[1].addr.s_addr, ip("192.168.7.1"));
	CU_ASSERT_EQUAL(e->addrs[1].prefix, 16);
	CU_ASSERT_STRING_EQUAL(e->capture, "eth0 capture.pcap");
	CU_ASSERT_EQUAL(e->impair.loss, 0.0);
	CU_ASSERT_EQUAL(e->impair.rate_mbit, 0);
	CU_ASSERT_EQUAL(e->line, 6);    /* "  eth0:" */
	CU_ASSERT_EQUAL(e->column, 3);

	const struct us_iface_config *p = &cfg.ifaces[1];
	CU_ASSERT_STRING_EQUAL(p->name, "p0");
	CU_ASSERT_EQUAL(p->backend, US_BACKEND_PAIR);
	CU_ASSERT_STRING_EQUAL(p->device, "wire1");
	CU_ASSERT(!p->mac_set);
	CU_ASSERT_EQUAL(p->mtu, US_DEFAULT_MTU);
	CU_ASSERT_EQUAL_FATAL(p->naddrs, 1);
	CU_ASSERT_EQUAL(p->addrs[0].addr.s_addr, ip("172.16.0.1"));
	CU_ASSERT_EQUAL(p->addrs[0].prefix, 30);
	CU_ASSERT_STRING_EQUAL(p->capture, "");
	CU_ASSERT_EQUAL(p->impair.loss, 0.01);
	CU_ASSERT_EQUAL(p->impair.duplicate, 0.5);
	CU_ASSERT_EQUAL(p->impair.reorder, 1.0);
	CU_ASSERT_EQUAL(p->impair.corrupt, 0.001);
	CU_ASSERT_EQUAL(p->impair.delay_ms, 60000);
	CU_ASSERT_EQUAL(p->impair.jitter_ms, 5);
	CU_ASSERT_EQUAL(p->impair.rate_mbit, 100000);
	CU_ASSERT_EQUAL(p->line, 13);
	CU_ASSERT_EQUAL(p->column, 3);

	const struct us_iface_config *l = &cfg.ifaces[2];
	CU_ASSERT_STRING_EQUAL(l->name, "lo");
	CU_ASSERT_EQUAL(l->backend, US_BACKEND_LOOPBACK);
	CU_ASSERT_STRING_EQUAL(l->device, "");
	CU_ASSERT_EQUAL(l->mtu, 576);
	CU_ASSERT_EQUAL(l->naddrs, 0);
	CU_ASSERT_EQUAL(l->line, 20);

	const struct us_iface_config *f = &cfg.ifaces[3];
	CU_ASSERT_STRING_EQUAL(f->name, "f0");
	CU_ASSERT_EQUAL(f->backend, US_BACKEND_PCAP_FILE);
	CU_ASSERT_STRING_EQUAL(f->device, "in.pcap");
	CU_ASSERT_STRING_EQUAL(f->output, "out.pcap");

	const struct us_iface_config *w = &cfg.ifaces[4];
	CU_ASSERT_STRING_EQUAL(w->name, "w1");
	CU_ASSERT_EQUAL(w->backend, US_BACKEND_PCAP);
	CU_ASSERT_STRING_EQUAL(w->device, "eno1");

	CU_ASSERT_EQUAL_FATAL(cfg.nroutes, 3);
	const struct us_route_config *r = cfg.routes;
	CU_ASSERT_EQUAL(r[0].to.addr.s_addr, 0);
	CU_ASSERT_EQUAL(r[0].to.prefix, 0);
	CU_ASSERT_EQUAL(r[0].via.s_addr, ip("10.0.0.1"));
	CU_ASSERT_EQUAL(r[0].metric, 100);
	CU_ASSERT_STRING_EQUAL(r[0].iface, "");
	CU_ASSERT_EQUAL(r[0].line, 27);   /* the "{" */
	CU_ASSERT_EQUAL(r[0].column, 5);
	CU_ASSERT_EQUAL(r[1].to.addr.s_addr, ip("10.9.0.0"));
	CU_ASSERT_EQUAL(r[1].to.prefix, 16);
	CU_ASSERT_EQUAL(r[1].via.s_addr, ip("99.0.0.1"));
	CU_ASSERT_EQUAL(r[1].metric, UINT32_MAX);
	CU_ASSERT_STRING_EQUAL(r[1].iface, "eth0");
	CU_ASSERT_EQUAL(r[1].line, 28);   /* the "to" of a block mapping */
	CU_ASSERT_EQUAL(r[1].column, 5);
	CU_ASSERT_EQUAL(r[2].to.addr.s_addr, ip("1.2.3.4"));
	CU_ASSERT_EQUAL(r[2].to.prefix, 32);
	CU_ASSERT_EQUAL(r[2].via.s_addr, 0);
	CU_ASSERT_EQUAL(r[2].metric, 0);
	CU_ASSERT_STRING_EQUAL(r[2].iface, "p0");

	CU_ASSERT_EQUAL(cfg.arp_timeout_s, 86400);
	CU_ASSERT_EQUAL_FATAL(cfg.narp_static, 2);
	static const uint8_t m0[6] = { 2, 0, 0, 0, 0, 9 }, m1[6] = { 0x0a, 0xbc, 0xde, 0xf0, 0x12,
								  0x34 };
	CU_ASSERT_EQUAL(cfg.arp_static[0].addr.s_addr, ip("10.0.0.9"));
	CU_ASSERT_EQUAL(memcmp(cfg.arp_static[0].mac, m0, 6), 0);
	CU_ASSERT_EQUAL(cfg.arp_static[1].addr.s_addr, ip("172.16.0.2"));
	CU_ASSERT_EQUAL(memcmp(cfg.arp_static[1].mac, m1, 6), 0);

	CU_ASSERT_EQUAL_FATAL(cfg.nnameservers, 3);
	CU_ASSERT_EQUAL(cfg.nameservers[0].s_addr, ip("10.0.0.1"));
	CU_ASSERT_EQUAL(cfg.nameservers[1].s_addr, ip("192.168.7.53"));
	CU_ASSERT_EQUAL(cfg.nameservers[2].s_addr, ip("8.8.8.8"));
	CU_ASSERT_EQUAL_FATAL(cfg.nsearch, 3);
	CU_ASSERT_STRING_EQUAL(cfg.search[0], "test");
	CU_ASSERT_STRING_EQUAL(cfg.search[1], "Example.org");  /* case kept */
	CU_ASSERT_STRING_EQUAL(cfg.search[2], "a-1.b2.c");
	CU_ASSERT_EQUAL(cfg.dns_timeout_ms, 60000);
	CU_ASSERT_EQUAL(cfg.dns_attempts, 10);

	CU_ASSERT_EQUAL_FATAL(cfg.nhosts, 3);
	CU_ASSERT_STRING_EQUAL(cfg.hosts[0].name, "files.test");
	CU_ASSERT_EQUAL(cfg.hosts[0].addr.s_addr, ip("10.0.0.1"));
	CU_ASSERT_STRING_EQUAL(cfg.hosts[1].name, "WWW.Example.org");
	CU_ASSERT_EQUAL(cfg.hosts[1].addr.s_addr, ip("10.0.0.80"));
	CU_ASSERT_STRING_EQUAL(cfg.hosts[2].name, "null");
	CU_ASSERT_EQUAL(cfg.hosts[2].addr.s_addr, ip("172.16.0.9"));

	const struct us_tcp_config *t = &cfg.tcp;
	CU_ASSERT_EQUAL(t->mss, 88);
	CU_ASSERT_EQUAL(t->sndbuf, 4096);
	CU_ASSERT_EQUAL(t->rcvbuf, 64 * 1024 * 1024);
	CU_ASSERT(t->nodelay);
	CU_ASSERT_EQUAL(t->delayed_ack_ms, 0);
	CU_ASSERT_EQUAL(t->rto_min_ms, 1);
	CU_ASSERT_EQUAL(t->rto_initial_ms, 60000);
	CU_ASSERT_EQUAL(t->retries, 255);
	CU_ASSERT_EQUAL(t->syn_retries, 1);
	CU_ASSERT_EQUAL(t->time_wait_s, 0);
	CU_ASSERT_STRING_EQUAL(t->congestion, "newreno");
	CU_ASSERT(!t->window_scaling);
	CU_ASSERT(!t->timestamps);
	CU_ASSERT(!t->sack);
	CU_ASSERT(!t->syncookies);

	CU_ASSERT_EQUAL_FATAL(cfg.nservices, 5);
	const struct us_service_config *sv = cfg.services;
	CU_ASSERT_EQUAL(sv[0].type, US_SVC_ECHO);
	CU_ASSERT_EQUAL(sv[0].proto, IPPROTO_TCP);
	CU_ASSERT_EQUAL(sv[0].port, 7);
	CU_ASSERT_STRING_EQUAL(sv[0].root, "");
	CU_ASSERT_EQUAL(sv[0].line, 65);  /* the "{" */
	CU_ASSERT_EQUAL(sv[0].column, 5);
	CU_ASSERT_EQUAL(sv[1].type, US_SVC_ECHO);
	CU_ASSERT_EQUAL(sv[1].proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(sv[1].port, 7);
	CU_ASSERT_EQUAL(sv[1].line, 66);
	CU_ASSERT_EQUAL(sv[2].type, US_SVC_DISCARD);
	CU_ASSERT_EQUAL(sv[2].proto, IPPROTO_TCP);  /* the default */
	CU_ASSERT_EQUAL(sv[2].port, 9);
	CU_ASSERT_EQUAL(sv[2].line, 67);  /* the "type" of a block mapping */
	CU_ASSERT_EQUAL(sv[2].column, 5);
	CU_ASSERT_EQUAL(sv[3].type, US_SVC_CHARGEN);
	CU_ASSERT_EQUAL(sv[3].proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(sv[3].port, 19);
	CU_ASSERT_EQUAL(sv[3].line, 69);
	CU_ASSERT_EQUAL(sv[4].type, US_SVC_HTTP);
	CU_ASSERT_EQUAL(sv[4].proto, IPPROTO_TCP);
	CU_ASSERT_EQUAL(sv[4].port, 65535);
	CU_ASSERT_STRING_EQUAL(sv[4].root, "/srv/www");
	CU_ASSERT_EQUAL(sv[4].line, 70);
	CU_ASSERT_EQUAL(sv[4].column, 5);
}

static void test_defaults(void)
{
	EXPECT_OK("interfaces:\n"
		  "  lo0:\n"
		  "    backend: loopback\n");
	CU_ASSERT_EQUAL(cfg.log_level, US_LOG_INFO);
	CU_ASSERT(!cfg.seed_set);
	CU_ASSERT_EQUAL(cfg.seed, 0);
	CU_ASSERT_EQUAL_FATAL(cfg.nifaces, 1);
	CU_ASSERT_STRING_EQUAL(cfg.ifaces[0].name, "lo0");
	CU_ASSERT_EQUAL(cfg.ifaces[0].mtu, 1500);
	CU_ASSERT(!cfg.ifaces[0].mac_set);
	CU_ASSERT_EQUAL(cfg.ifaces[0].naddrs, 0);
	CU_ASSERT_STRING_EQUAL(cfg.ifaces[0].capture, "");
	CU_ASSERT_STRING_EQUAL(cfg.ifaces[0].output, "");
	CU_ASSERT_EQUAL(cfg.ifaces[0].impair.loss, 0.0);
	CU_ASSERT_EQUAL(cfg.ifaces[0].impair.delay_ms, 0);
	CU_ASSERT_EQUAL(cfg.ifaces[0].line, 2);
	CU_ASSERT_EQUAL(cfg.ifaces[0].column, 3);
	CU_ASSERT_EQUAL(cfg.nroutes, 0);
	CU_ASSERT_EQUAL(cfg.arp_timeout_s, 60);
	CU_ASSERT_EQUAL(cfg.narp_static, 0);
	CU_ASSERT_EQUAL(cfg.nnameservers, 0);
	CU_ASSERT_EQUAL(cfg.nsearch, 0);
	CU_ASSERT_EQUAL(cfg.dns_timeout_ms, 2000);
	CU_ASSERT_EQUAL(cfg.dns_attempts, 3);
	CU_ASSERT_EQUAL(cfg.nhosts, 0);
	check_tcp_defaults(&cfg.tcp);
	CU_ASSERT_EQUAL(cfg.nservices, 0);

	/* Keys given with no value are empty sections and lists. */
	EXPECT_OK("stack:\n"
		  "routes:\n"
		  "arp:\n"
		  "  static:\n"
		  "hosts:\n"
		  "tcp:\n"
		  "services:\n"
		  "interfaces:\n"
		  "  lo0: {backend: loopback, addresses: }\n");
	CU_ASSERT_EQUAL(cfg.nroutes, 0);
	CU_ASSERT_EQUAL(cfg.ifaces[0].naddrs, 0);
	CU_ASSERT_EQUAL(cfg.arp_timeout_s, 60);
	CU_ASSERT_EQUAL(cfg.nhosts, 0);
	check_tcp_defaults(&cfg.tcp);
	CU_ASSERT_EQUAL(cfg.nservices, 0);

	/* A section with some keys keeps the defaults of the others. */
	EXPECT_OK(ETH0 "nameservers: {addresses: [10.0.0.1], search: }\n"
		  "tcp: {mss: 1400, nodelay: true}\n"
		  "services: [{type: echo, port: 7}]\n");
	CU_ASSERT_EQUAL(cfg.nnameservers, 1);
	CU_ASSERT_EQUAL(cfg.nsearch, 0);
	CU_ASSERT_EQUAL(cfg.dns_timeout_ms, 2000);
	CU_ASSERT_EQUAL(cfg.dns_attempts, 3);
	CU_ASSERT_EQUAL(cfg.tcp.mss, 1400);
	CU_ASSERT(cfg.tcp.nodelay);
	cfg.tcp.mss = 1460;
	cfg.tcp.nodelay = false;
	check_tcp_defaults(&cfg.tcp);
	CU_ASSERT_EQUAL_FATAL(cfg.nservices, 1);
	CU_ASSERT_EQUAL(cfg.services[0].proto, IPPROTO_TCP);
	CU_ASSERT_STRING_EQUAL(cfg.services[0].root, "");

	/* Booleans and numbers may be quoted too; rto_initial_ms may equal rto_min_ms. */
	EXPECT_OK(ETH0 "tcp: {window_scaling: 'false', timestamps: \"true\", rto_min_ms: 300, "
		  "rto_initial_ms: '300'}\n");
	CU_ASSERT(!cfg.tcp.window_scaling);
	CU_ASSERT(cfg.tcp.timestamps);
	CU_ASSERT_EQUAL(cfg.tcp.rto_initial_ms, 300);

	/* Any scalar style is text; a route given before the interfaces works. */
	EXPECT_OK("routes: [{to: '10.5.0.0/16', via: \"10.0.0.7\", metric: '7'}]\n" ETH0);
	CU_ASSERT_EQUAL(cfg.routes[0].metric, 7);
	CU_ASSERT_EQUAL(cfg.routes[0].via.s_addr, ip("10.0.0.7"));
}

static void test_init_and_names(void)
{
	us_config_init(&cfg);
	CU_ASSERT_EQUAL(cfg.log_level, US_LOG_INFO);
	CU_ASSERT(!cfg.seed_set);
	CU_ASSERT_EQUAL(cfg.nifaces, 0);
	CU_ASSERT_EQUAL(cfg.nroutes, 0);
	CU_ASSERT_EQUAL(cfg.narp_static, 0);
	CU_ASSERT_EQUAL(cfg.arp_timeout_s, US_DEFAULT_ARP_TIMEOUT_S);
	CU_ASSERT_STRING_EQUAL(cfg.source, "");
	for (int i = 0; i < US_MAX_IFACES; i++)
		CU_ASSERT_EQUAL(cfg.ifaces[i].mtu, US_DEFAULT_MTU);
	CU_ASSERT_EQUAL(cfg.nnameservers, 0);
	CU_ASSERT_EQUAL(cfg.nsearch, 0);
	CU_ASSERT_EQUAL(cfg.dns_timeout_ms, 2000);
	CU_ASSERT_EQUAL(cfg.dns_attempts, 3);
	CU_ASSERT_EQUAL(cfg.nhosts, 0);
	check_tcp_defaults(&cfg.tcp);
	CU_ASSERT_EQUAL(cfg.nservices, 0);
	for (int i = 0; i < US_MAX_SERVICES; i++)
		CU_ASSERT_EQUAL(cfg.services[i].proto, IPPROTO_TCP);

	CU_ASSERT_STRING_EQUAL(us_backend_name(US_BACKEND_TAP), "tap");
	CU_ASSERT_STRING_EQUAL(us_backend_name(US_BACKEND_PCAP), "pcap");
	CU_ASSERT_STRING_EQUAL(us_backend_name(US_BACKEND_PCAP_FILE), "pcap-file");
	CU_ASSERT_STRING_EQUAL(us_backend_name(US_BACKEND_LOOPBACK), "loopback");
	CU_ASSERT_STRING_EQUAL(us_backend_name(US_BACKEND_PAIR), "pair");
	CU_ASSERT_STRING_EQUAL(us_backend_name((enum us_backend_kind)99), "unknown");
	CU_ASSERT_STRING_EQUAL(us_log_level_name(US_LOG_ERROR), "error");
	CU_ASSERT_STRING_EQUAL(us_log_level_name(US_LOG_WARN), "warn");
	CU_ASSERT_STRING_EQUAL(us_log_level_name(US_LOG_INFO), "info");
	CU_ASSERT_STRING_EQUAL(us_log_level_name(US_LOG_DEBUG), "debug");
	CU_ASSERT_STRING_EQUAL(us_log_level_name(US_LOG_TRACE), "trace");
	CU_ASSERT_STRING_EQUAL(us_log_level_name((enum us_log_level)-1), "unknown");
}

/* ---- dump and round trip ------------------------------------------------ */

/* 0 if a and b hold the same configuration (positions and source aside). */
static int config_diff(const struct us_config *a, const struct us_config *b)
{
#define DIFF(cond) do { if (cond) return __LINE__; } while (0)
	DIFF(a->log_level != b->log_level || a->seed_set != b->seed_set || a->seed != b->seed);
	DIFF(a->nifaces != b->nifaces || a->nroutes != b->nroutes);
	DIFF(a->arp_timeout_s != b->arp_timeout_s || a->narp_static != b->narp_static);
	for (int i = 0; i < a->nifaces; i++) {
		const struct us_iface_config *x = &a->ifaces[i], *y = &b->ifaces[i];
		DIFF(strcmp(x->name, y->name) || x->backend != y->backend);
		DIFF(strcmp(x->device, y->device) || strcmp(x->output, y->output));
		DIFF(strcmp(x->capture, y->capture));
		DIFF(x->mac_set != y->mac_set || (x->mac_set && memcmp(x->mac, y->mac, 6)));
		DIFF(x->mtu != y->mtu || x->naddrs != y->naddrs);
		for (int j = 0; j < x->naddrs; j++)
			DIFF(x->addrs[j].addr.s_addr != y->addrs[j].addr.s_addr ||
			     x->addrs[j].prefix != y->addrs[j].prefix);
		DIFF(x->impair.loss != y->impair.loss || x->impair.duplicate != y->impair.duplicate);
		DIFF(x->impair.reorder != y->impair.reorder || x->impair.corrupt != y->impair.corrupt);
		DIFF(x->impair.delay_ms != y->impair.delay_ms ||
		     x->impair.jitter_ms != y->impair.jitter_ms ||
		     x->impair.rate_mbit != y->impair.rate_mbit);
	}
	for (int i = 0; i < a->nroutes; i++) {
		const struct us_route_config *x = &a->routes[i], *y = &b->routes[i];
		DIFF(x->to.addr.s_addr != y->to.addr.s_addr || x->to.prefix != y->to.prefix);
		DIFF(x->via.s_addr != y->via.s_addr || x->metric != y->metric);
		DIFF(strcmp(x->iface, y->iface));
	}
	for (int i = 0; i < a->narp_static; i++)
		DIFF(a->arp_static[i].addr.s_addr != b->arp_static[i].addr.s_addr ||
		     memcmp(a->arp_static[i].mac, b->arp_static[i].mac, 6));

	DIFF(a->nnameservers != b->nnameservers || a->nsearch != b->nsearch);
	DIFF(a->dns_timeout_ms != b->dns_timeout_ms || a->dns_attempts != b->dns_attempts);
	for (int i = 0; i < a->nnameservers; i++)
		DIFF(a->nameservers[i].s_addr != b->nameservers[i].s_addr);
	for (int i = 0; i < a->nsearch; i++)
		DIFF(strcmp(a->search[i], b->search[i]));
	DIFF(a->nhosts != b->nhosts);
	for (int i = 0; i < a->nhosts; i++)
		DIFF(strcmp(a->hosts[i].name, b->hosts[i].name) ||
		     a->hosts[i].addr.s_addr != b->hosts[i].addr.s_addr);
	const struct us_tcp_config *ta = &a->tcp, *tb = &b->tcp;
	DIFF(ta->mss != tb->mss || ta->sndbuf != tb->sndbuf || ta->rcvbuf != tb->rcvbuf);
	DIFF(ta->nodelay != tb->nodelay || ta->delayed_ack_ms != tb->delayed_ack_ms);
	DIFF(ta->rto_min_ms != tb->rto_min_ms || ta->rto_initial_ms != tb->rto_initial_ms);
	DIFF(ta->retries != tb->retries || ta->syn_retries != tb->syn_retries);
	DIFF(ta->time_wait_s != tb->time_wait_s || strcmp(ta->congestion, tb->congestion));
	DIFF(ta->window_scaling != tb->window_scaling || ta->timestamps != tb->timestamps);
	DIFF(ta->sack != tb->sack || ta->syncookies != tb->syncookies || ta->rack != tb->rack);
	DIFF(a->nservices != b->nservices);
	for (int i = 0; i < a->nservices; i++) {
		const struct us_service_config *x = &a->services[i], *y = &b->services[i];
		DIFF(x->type != y->type || x->proto != y->proto || x->port != y->port);
		DIFF(strcmp(x->root, y->root));
	}
	return 0;
#undef DIFF
}

/* us_config_dump into a malloc'd string. */
static char *dump(const struct us_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	us_config_dump(c, f);
	fclose(f);
	return buf;
}

/* Dump c, load the dump into cfg2, check it is equal and dumps identically. */
static void round_trip(const struct us_config *c)
{
	char *text = dump(c);
	int rc = us_config_load_string("dump", text, strlen(text), &cfg2, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n    dump does not load: %s\n%s", err, text);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	int d = config_diff(c, &cfg2);
	if (d)
		fprintf(stderr, "\n    round trip differs (test_config.c:%d)\n%s", d, text);
	CU_ASSERT_EQUAL(d, 0);
	char *again = dump(&cfg2);
	CU_ASSERT_STRING_EQUAL(text, again);
	free(again);
	free(text);
}

static void test_dump_round_trip(void)
{
	EXPECT_OK(FULL);
	round_trip(&cfg);

	EXPECT_OK("interfaces: {lo: {backend: loopback}}\n");
	round_trip(&cfg);
	/* Defaults are written out; unset optional keys are not. */
	char *text = dump(&cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  log_level: info\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  busy_poll_us: 200\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  drain_timeout_ms: 10000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "    mtu: 1500\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  timeout_s: 60\n"));
	CU_ASSERT_PTR_NULL(strstr(text, "macaddress"));
	CU_ASSERT_PTR_NULL(strstr(text, "seed"));
	/* tcp always, whole; nameservers, hosts and services only with entries. */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, TCP_DEFAULTS));
	CU_ASSERT_PTR_NULL(strstr(text, "nameservers"));
	CU_ASSERT_PTR_NULL(strstr(text, "hosts"));
	CU_ASSERT_PTR_NULL(strstr(text, "services"));
	free(text);

	/* The new sections of FULL, as written out. */
	EXPECT_OK(FULL);
	text = dump(&cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nnameservers:\n"
					    "  addresses: [10.0.0.1, 192.168.7.53, 8.8.8.8]\n"
					    "  search: [test, Example.org, a-1.b2.c]\n"
					    "  timeout_ms: 60000\n"
					    "  attempts: 10\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nhosts:\n"
					    "  files.test: 10.0.0.1\n"
					    "  WWW.Example.org: 10.0.0.80\n"
					    "  \"null\": 172.16.0.9\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\ntcp:\n  mss: 88\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  nodelay: true\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  window_scaling: false\n  timestamps: false\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nservices:\n"
					    "  - type: echo\n    proto: tcp\n    port: 7\n"
					    "  - type: echo\n    proto: udp\n    port: 7\n"
					    "  - type: discard\n    proto: tcp\n    port: 9\n"
					    "  - type: chargen\n    proto: udp\n    port: 19\n"
					    "  - type: http\n    proto: tcp\n    port: 65535\n"
					    "    root: /srv/www\n"));
	free(text);

	/* Search domains without search: an empty list; a root that needs quotes. */
	EXPECT_OK(ETH0 "nameservers: {addresses: [10.0.0.1]}\n"
		  "services: [{type: http, port: 80, root: \"/srv/my www: #1\"}]\n");
	round_trip(&cfg);
	text = dump(&cfg);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nnameservers:\n  addresses: [10.0.0.1]\n"
					    "  search: []\n  timeout_ms: 2000\n  attempts: 3\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "    root: \"/srv/my www: #1\"\n"));
	free(text);

	EXPECT_OK("interfaces:\n"
		  "  eth0:\n"
		  "    backend: pcap-file\n"
		  "    device: \"in put: #1.pcap\"\n"
		  "    output: 'say \"hi\" \\ there'\n"
		  "    capture: \"-\"\n"
		  "    macaddress: 02:00:00:00:00:01\n");
	round_trip(&cfg);
	/* Impairment probabilities come back bit for bit. */
	EXPECT_OK("interfaces: {p: {backend: pair, device: w, impair: {loss: 0.1, corrupt: "
		  "0.30000000000000004, duplicate: 1e-300, reorder: 0.3333333333333333}}}\n");
	round_trip(&cfg);
}

static void test_dump_code_built(void)
{
	us_config_init(&cfg);
	cfg.log_level = US_LOG_TRACE;
	cfg.seed_set = true;
	cfg.seed = 7;
	struct us_iface_config *a = &cfg.ifaces[0], *b = &cfg.ifaces[1];
	strcpy(a->name, "a");
	a->backend = US_BACKEND_PAIR;
	strcpy(a->device, "w");
	a->addrs[0].addr.s_addr = ip("10.0.0.1");
	a->addrs[0].prefix = 24;
	a->naddrs = 1;
	a->impair.loss = 0.25;
	a->impair.delay_ms = 10;
	strcpy(b->name, "null");  /* would read back as a null key if written plain */
	b->backend = US_BACKEND_LOOPBACK;
	cfg.nifaces = 2;
	cfg.routes[0].via.s_addr = ip("10.0.0.254");
	cfg.routes[0].metric = 5;
	cfg.nroutes = 1;
	cfg.arp_static[0].addr.s_addr = ip("10.0.0.3");
	memcpy(cfg.arp_static[0].mac, "\x02\x01\x02\x03\x04\x05", 6);
	cfg.narp_static = 1;
	cfg.nameservers[0].s_addr = ip("10.0.0.53");
	cfg.nameservers[1].s_addr = ip("1.1.1.1");
	cfg.nnameservers = 2;
	strcpy(cfg.search[0], "corp.example");
	cfg.nsearch = 1;
	cfg.dns_timeout_ms = 1;
	cfg.dns_attempts = 1;
	strcpy(cfg.hosts[0].name, "NULL");  /* quoted in the dump, like "null" above */
	cfg.hosts[0].addr.s_addr = ip("10.0.0.7");
	strcpy(cfg.hosts[1].name, "db");
	cfg.hosts[1].addr.s_addr = ip("10.0.0.8");
	cfg.nhosts = 2;
	cfg.tcp.mss = 536;
	cfg.tcp.rcvbuf = 65536;
	cfg.tcp.delayed_ack_ms = 500;
	cfg.tcp.time_wait_s = 600;
	cfg.tcp.timestamps = false;
	cfg.services[0].type = US_SVC_CHARGEN;
	cfg.services[0].port = 19;  /* proto: the default from us_config_init */
	cfg.services[1].type = US_SVC_HTTP;
	cfg.services[1].port = 8080;
	strcpy(cfg.services[1].root, "www");
	cfg.services[2].type = US_SVC_DISCARD;
	cfg.services[2].proto = IPPROTO_UDP;
	cfg.services[2].port = 19;
	cfg.nservices = 3;
	int rc = us_config_validate(&cfg, err, sizeof err);
	if (rc)
		fprintf(stderr, "\n    %s\n", err);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	round_trip(&cfg);
}

/* ---- loading files ------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_file(void)
{
	char path[] = "/tmp/us_test_config_XXXXXX";
	int fd = mkstemp(path);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);

	write_file(path, FULL);
	CU_ASSERT_EQUAL(us_config_load(path, &cfg, err, sizeof err), 0);
	CU_ASSERT_STRING_EQUAL(cfg.source, path);
	CU_ASSERT_EQUAL(cfg.nifaces, 5);

	write_file(path, "interfaces:\n"       /* 1 */
			 "  eth0:\n"           /* 2 */
			 "    backend: tap\n"  /* 3 */
			 "    device: t\n"     /* 4 */
			 "    mtu: abc\n");    /* 5: "abc" at column 10 */
	char want[512];
	snprintf(want, sizeof want, "%s:5:10: mtu: expected an integer 576..9000, got \"abc\"",
		 path);
	CU_ASSERT_EQUAL(us_config_load(path, &cfg, err, sizeof err), -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(errno, EINVAL);

	unlink(path);
	CU_ASSERT_EQUAL(us_config_load(path, &cfg, err, sizeof err), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	snprintf(want, sizeof want, "%s: cannot open: ", path);
	CU_ASSERT(err_is(want));

	CU_ASSERT_EQUAL(us_config_load("/", &cfg, err, sizeof err), -1);
	CU_ASSERT(err_is("/: cannot read: "));

	/* A tiny error buffer is cut, never overrun; no buffer at all is fine. */
	char small[8];
	memset(small, 'x', sizeof small);
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", "", 0, &cfg, small, 5), -1);
	CU_ASSERT_STRING_EQUAL(small, "t.ya");
	CU_ASSERT_EQUAL(small[5], 'x');
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", "", 0, &cfg, NULL, 0), -1);
	CU_ASSERT_EQUAL(us_config_load_string(NULL, "", 0, &cfg, err, sizeof err), -1);
	CU_ASSERT(err_is("<string>:1:1: no interfaces configured"));
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", "", 0, NULL, err, sizeof err), -1);
}

/* The sample files in tests/unit/configs/ all load (run from the source root). */
static void test_sample_files(void)
{
	static const char *const files[] = { "host.yaml", "pair.yaml", "loopback.yaml",
					     "replay.yaml" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char path[256];
		snprintf(path, sizeof path, "tests/unit/configs/%s", files[i]);
		int rc = us_config_load(path, &cfg, err, sizeof err);
		if (rc)
			fprintf(stderr, "\n    %s\n", err);
		CU_ASSERT_EQUAL(rc, 0);
		if (rc == 0)
			round_trip(&cfg);
	}
}

/* ---- errors: YAML level ------------------------------------------------- */

static void test_err_empty(void)
{
	EXPECT_ERR("", "t.yaml:1:1: no interfaces configured");
	EXPECT_ERR("# only a comment\n\n", "t.yaml:1:1: no interfaces configured");
	EXPECT_ERR("---\n", "t.yaml:1:1: no interfaces configured");
	EXPECT_ERR("~\n", "t.yaml:1:1: no interfaces configured");
	/* Not empty, but still no interfaces: at the mapping, or at "interfaces:". */
	EXPECT_ERR("# hello\n"                /* 1 */
		   "stack: {seed: 1}\n",      /* 2 */
		   "t.yaml:2:1: no interfaces configured");
	EXPECT_ERR("stack:\n"                 /* 1 */
		   "  log_level: info\n"      /* 2 */
		   "interfaces: {}\n",        /* 3 */
		   "t.yaml:3:1: no interfaces configured");
}

static void test_err_syntax(void)
{
	/* A tab cannot indent. */
	EXPECT_ERR("interfaces:\n"            /* 1 */
		   "\teth0: {}\n",            /* 2 */
		   "t.yaml:2:1: YAML syntax error: found character that cannot start any token");
	EXPECT_ERR("interfaces:\n"                   /* 1 */
		   "  lo:\n"                         /* 2 */
		   "\tbackend: loopback\n",          /* 3 */
		   "t.yaml:3:1: YAML syntax error: found character that cannot start any token");
	/* An unclosed flow sequence: the parser finds the end of the stream on line 2. */
	EXPECT_ERR("interfaces: [a, b\n",
		   "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']' "
		   "(while parsing a flow sequence at 1:13)");
	/* An unclosed quote. */
	EXPECT_ERR("interfaces:\n"               /* 1 */
		   "  \"eth0: {}\n",             /* 2 */
		   "t.yaml:3:1: YAML syntax error: found unexpected end of stream");
	/* Bad bytes: libyaml's reader reports an offset; we turn it into line:col. */
	EXPECT_ERR("\xff", "t.yaml:1:1: YAML reader error: invalid leading UTF-8 octet (#xFF)");
	EXPECT_ERR("interfaces:\n"               /* 1 */
		   "  l\xc3\x28: x\n",           /* 2: the bad byte 0x28 is character 5 */
		   "t.yaml:2:5: YAML reader error: invalid trailing UTF-8 octet (#x28)");
	static const char nul[] = "interfaces:\n\0";
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", nul, sizeof nul - 1, &cfg, err,
					      sizeof err), -1);
	CU_ASSERT(err_is("t.yaml:2:1: YAML reader error: control characters are not allowed"));
}

static void test_err_documents_anchors_tags(void)
{
	EXPECT_ERR("interfaces: {lo: {backend: loopback}}\n"   /* 1 */
		   "---\n"                                     /* 2 */
		   "stack: {}\n",
		   "t.yaml:2:1: more than one YAML document");
	EXPECT_ERR("interfaces: {lo: {backend: loopback}}\n"   /* 1 */
		   "...\n"                                     /* 2 */
		   "---\n"                                     /* 3 */
		   "stack: {}\n",
		   "t.yaml:3:1: more than one YAML document");
	/* After "..." libyaml wants an explicit "---" before another document. */
	EXPECT_ERR("interfaces: {lo: {backend: loopback}}\n"   /* 1 */
		   "...\n"                                     /* 2 */
		   "stack: {}\n",                              /* 3 */
		   "t.yaml:3:1: YAML syntax error: did not find expected <document start>");
	EXPECT_ERR("interfaces:\n"                             /* 1 */
		   "  lo: &x {backend: loopback}\n"            /* 2 */
		   "  lo2: *x\n",
		   "t.yaml:2:7: YAML anchors (&x) are not supported");
	EXPECT_ERR("interfaces: *x\n", "t.yaml:1:13: YAML aliases (*x) are not supported");
	EXPECT_ERR("interfaces: !!map {}\n", "t.yaml:1:13: YAML tags (");
}

static void test_err_root_type(void)
{
	EXPECT_ERR("- interfaces\n", "t.yaml:1:1: top level: expected a mapping, got a sequence");
	EXPECT_ERR("hello\n", "t.yaml:1:1: top level: expected a mapping, got \"hello\"");
}

/* ---- errors: schema ----------------------------------------------------- */

static void test_err_unknown_key(void)
{
	EXPECT_ERR("interfaces:\n"                /* 1 */
		   "  eth0:\n"                    /* 2 */
		   "    backend: tap\n"           /* 3 */
		   "    device: tap0\n"           /* 4 */
		   "    mtuu: 1500\n",            /* 5 */
		   "t.yaml:5:5: interface \"eth0\": unknown key \"mtuu\" (expected one of: "
		   "backend, device, output, macaddress, mtu, addresses, capture, impair, "
		   "pcap_buffer_kb, offload, forwarding, dhcp4, queues)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:5:5: interface \"eth0\": unknown key \"mtuu\" "
				    "(expected one of: backend, device, output, macaddress, mtu, "
				    "addresses, capture, impair, pcap_buffer_kb, offload, forwarding, "
				    "dhcp4, queues)");
	EXPECT_ERR(ETH0 "interface: x\n",
		   "t.yaml:3:1: top level: unknown key \"interface\" (expected one of: stack, "
		   "interfaces, routes, arp, nameservers, hosts, tcp, services)");
	EXPECT_ERR("stack: {log_level: info, verbose: 1}\n" ETH0,
		   "t.yaml:1:26: stack: unknown key \"verbose\" (expected one of: log_level, seed, busy_poll_us, "
		   "drain_timeout_ms, max_sockets, forwarding, send_redirects, ip_local_port_range)");
	/*         1234567890123456789012345678901234567890123 */
	EXPECT_ERR("interfaces:\n"
		   "  p0: {backend: pair, device: w, impair: {los: 0.1}}\n",
		   "t.yaml:2:43: impair: unknown key \"los\" (expected one of: loss, duplicate, "
		   "reorder, corrupt, delay_ms, jitter_ms, rate_mbit)");
	EXPECT_ERR(ETH0 "routes:\n"                       /* 3 */
		   "  - {to: default, gw: 10.0.0.1}\n",   /* 4: "gw" at 19 */
		   "t.yaml:4:19: route: unknown key \"gw\": the gateway key is \"via\"");
	EXPECT_ERR(ETH0 "routes:\n"                       /* 3 */
		   "  - {to: default, gateway_ip: 10.0.0.1}\n",   /* 4 */
		   "t.yaml:4:19: route: unknown key \"gateway_ip\" (expected one of: to, via, "
		   "metric, interface, src)");
	EXPECT_ERR(ETH0 "arp:\n"                          /* 3 */
		   "  timeout: 5\n",                      /* 4 */
		   "t.yaml:4:3: arp: unknown key \"timeout\" (expected one of: timeout_s, static)");
	EXPECT_ERR(ETH0 "arp:\n"                                          /* 3 */
		   "  static:\n"                                          /* 4 */
		   "    - {address: 10.0.0.9, mac: 02:00:00:00:00:09, ttl: 1}\n", /* 5 */
		   "t.yaml:5:51: static ARP entry: unknown key \"ttl\"");
}

static void test_err_duplicate_key(void)
{
	EXPECT_ERR("interfaces:\n"                /* 1 */
		   "  eth0:\n"                    /* 2 */
		   "    backend: tap\n"           /* 3 */
		   "    device: tap0\n"           /* 4 */
		   "    mtu: 1500\n"              /* 5 */
		   "    mtu: 9000\n",             /* 6 */
		   "t.yaml:6:5: interface \"eth0\": duplicate key \"mtu\" (first at 5:5)");
	EXPECT_ERR("interfaces:\n"                   /* 1 */
		   "  eth0: {backend: loopback}\n"   /* 2 */
		   "  eth0: {backend: loopback}\n",  /* 3 */
		   "t.yaml:3:3: interfaces: duplicate key \"eth0\" (first at 2:3)");
	EXPECT_ERR(ETH0 "stack: {}\n"            /* 3 */
		   "stack: {}\n",                /* 4 */
		   "t.yaml:4:1: top level: duplicate key \"stack\" (first at 3:1)");
}

static void test_err_wrong_type(void)
{
	EXPECT_ERR("interfaces: [eth0]\n",
		   "t.yaml:1:13: interfaces: expected a mapping of interface names, got a sequence");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: tap\n",
		   "t.yaml:2:9: interface \"eth0\": expected a mapping, got \"tap\"");
	EXPECT_ERR("interfaces:\n"                /* 1 */
		   "  ? {a: 1}\n"                 /* 2: the key mapping starts at column 5 */
		   "  : x\n",
		   "t.yaml:2:5: interfaces: expected an interface name, got a mapping");
	EXPECT_ERR("interfaces:\n"                /* 1 */
		   "  eth0:\n"                    /* 2 */
		   "    backend: tap\n"           /* 3 */
		   "    device: tap0\n"           /* 4 */
		   "    mtu: [1500]\n",           /* 5 */
		   "t.yaml:5:10: mtu: expected an integer 576..9000, got a sequence");
	/* An empty value is null; it is reported just after the colon. */
	EXPECT_ERR("interfaces:\n"                /* 1 */
		   "  eth0:\n"                    /* 2 */
		   "    backend: tap\n"           /* 3 */
		   "    device: tap0\n"           /* 4 */
		   "    mtu:\n",                  /* 5 */
		   "t.yaml:5:9: mtu: expected an integer 576..9000, got null");
	EXPECT_ERR("interfaces:\n"
		   "  eth0:\n"
		   "    backend: loopback\n"
		   "    addresses: 10.0.0.2/24\n",   /* 4: value at 16 */
		   "t.yaml:4:16: addresses: expected a sequence, got \"10.0.0.2/24\"");
	EXPECT_ERR("stack: [info]\n" ETH0, "t.yaml:1:8: stack: expected a mapping, got a sequence");
	EXPECT_ERR(ETH0 "routes: {to: default}\n",
		   "t.yaml:3:9: routes: expected a sequence, got a mapping");
	EXPECT_ERR(ETH0 "routes:\n"
		   "  - default\n",               /* 4 */
		   "t.yaml:4:5: route: expected a mapping, got \"default\"");
	EXPECT_ERR(ETH0 "arp: 60\n", "t.yaml:3:6: arp: expected a mapping, got \"60\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: [tap]}\n",   /* 2: "[" at 19 */
		   "t.yaml:2:19: backend: expected one of: tap, pcap, pcap-file, loopback, pair, tun, "
		   "got a sequence");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: {name: tap0}}\n",  /* 2: "{" at 32 */
		   "t.yaml:2:32: device: expected a non-empty string, got a mapping");
}

static void test_err_strings(void)
{
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: \"\"}\n",       /* 2: '"' at 32 */
		   "t.yaml:2:32: device: expected a non-empty string, got \"\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: \"a\\tb\"}\n",
		   "t.yaml:2:32: device: control characters are not allowed");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: \"a\\0b\"}\n",
		   "t.yaml:2:32: device: expected a non-empty string, got \"a\\x00b\"");
	char *y = malloc(US_PATH_MAX + 100);
	if (!y) {
		CU_FAIL("out of memory");
		return;
	}
	/* 255 bytes fit, 256 do not. */
	snprintf(y, US_PATH_MAX + 100, "interfaces: {e: {backend: tap, device: %0*d}}\n",
		 US_PATH_MAX - 1, 0);
	EXPECT_OK(y);
	CU_ASSERT_EQUAL(strlen(cfg.ifaces[0].device), US_PATH_MAX - 1);
	/*                         123456789012345678901234567890123456789 */
	snprintf(y, US_PATH_MAX + 100, "interfaces: {e: {backend: tap, device: %0*d}}\n",
		 US_PATH_MAX, 0);
	EXPECT_ERR(y, "t.yaml:1:40: device: longer than 255 bytes");
	free(y);
}

static void test_err_range(void)
{
	/* "    mtu: " is 9 characters: values start at column 10. */
	static const char *const bad_mtu[] = { "abc", "575", "9001", "-1500", "+1500", "01500",
					       "1500.0", "0x5dc", "1500abc", "1_500",
					       "99999999999999999999999" };
	for (size_t i = 0; i < sizeof bad_mtu / sizeof bad_mtu[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, "interfaces:\n  eth0:\n    backend: loopback\n    mtu: %s\n",
			 bad_mtu[i]);
		snprintf(want, sizeof want,
			 "t.yaml:4:10: mtu: expected an integer 576..9000, got \"%s\"", bad_mtu[i]);
		EXPECT_ERR(y, want);
	}
	EXPECT_OK("interfaces: {eth0: {backend: loopback, mtu: 9000}}");
	EXPECT_OK("interfaces: {eth0: {backend: loopback, mtu: 576}}");

	/* "  p: {backend: pair, device: w, impair: {" is 41 characters. */
	static const char *const bad_prob[] = { "1.5", "-0.1", "nan", "inf", "0x1p-3", "1e3",
						"0.5.5", "two", ".", "1e" };
	for (size_t i = 0; i < sizeof bad_prob / sizeof bad_prob[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, "interfaces:\n  p: {backend: pair, device: w, impair: {"
			 "loss: %s}}\n", bad_prob[i]);
		snprintf(want, sizeof want, "t.yaml:2:48: loss: expected a number 0..1, got \"%s\"",
			 bad_prob[i]);
		EXPECT_ERR(y, want);
	}
	EXPECT_ERR("interfaces:\n  p: {backend: pair, device: w, impair: {delay_ms: 60001}}\n",
		   "t.yaml:2:52: delay_ms: expected an integer 0..60000, got \"60001\"");
	EXPECT_ERR("interfaces:\n  p: {backend: pair, device: w, impair: {jitter_ms: 60001}}\n",
		   "t.yaml:2:53: jitter_ms: expected an integer 0..60000, got \"60001\"");
	EXPECT_ERR("interfaces:\n  p: {backend: pair, device: w, impair: {rate_mbit: 100001}}\n",
		   "t.yaml:2:53: rate_mbit: expected an integer 0..100000, got \"100001\"");

	EXPECT_ERR(ETH0 "arp: {timeout_s: 0}\n",
		   "t.yaml:3:18: timeout_s: expected an integer 1..86400, got \"0\"");
	EXPECT_ERR(ETH0 "arp: {timeout_s: 86401}\n",
		   "t.yaml:3:18: timeout_s: expected an integer 1..86400, got \"86401\"");
	EXPECT_ERR(ETH0 "routes: [{to: default, via: 10.0.0.1, metric: 4294967296}]\n",
		   "t.yaml:3:47: metric: expected an integer 0..4294967295, got \"4294967296\"");
	EXPECT_ERR("stack: {seed: 18446744073709551616}\n" ETH0,
		   "t.yaml:1:15: seed: expected an integer 0..18446744073709551615, "
		   "got \"18446744073709551616\"");
	EXPECT_ERR("stack: {seed: -1}\n" ETH0,
		   "t.yaml:1:15: seed: expected an integer 0..18446744073709551615, got \"-1\"");
	EXPECT_OK("stack: {seed: 0}\n" ETH0);
	CU_ASSERT(cfg.seed_set);
	CU_ASSERT_EQUAL(cfg.seed, 0);
}

static void test_err_enum(void)
{
	EXPECT_ERR("interfaces:\n"              /* 1 */
		   "  eth0:\n"                  /* 2 */
		   "    backend: tapp\n",       /* 3: "tapp" at 14 */
		   "t.yaml:3:14: backend: unknown backend \"tapp\" (expected one of: tap, pcap, "
		   "pcap-file, loopback, pair, tun)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:3:14: backend: unknown backend \"tapp\" (expected "
				    "one of: tap, pcap, pcap-file, loopback, pair, tun)");
	EXPECT_ERR("stack:\n"
		   "  log_level: verbose\n" ETH0,   /* 2: value at 14 */
		   "t.yaml:2:14: log_level: unknown log_level \"verbose\" (expected one of: error, "
		   "warn, info, debug, trace)");
	EXPECT_ERR("stack: {log_level: INFO}\n" ETH0, "t.yaml:1:20: log_level: unknown log_level");
}

/* Mistakes users make that deserve more than "unknown key" (issue 9). */
static void test_err_hints(void)
{
	/* A prefix length above 32 says so, for addresses and for routes. */
	EXPECT_ERR("interfaces:\n  eth0:\n    backend: loopback\n"
		   "    addresses: [10.0.0.2/33]\n",
		   "t.yaml:4:17: addresses: 10.0.0.2/33: prefix length 33 is out of range 0..32");
	EXPECT_ERR(ETH0 "routes:\n  - {to: 10.1.0.0/40, via: 10.0.0.1}\n",
		   "t.yaml:4:10: to: 10.1.0.0/40: prefix length 40 is out of range 0..32");
	/* Two interfaces on one device: the second is pointed at. */
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: tap0, addresses: [10.0.0.2/24]}\n"
		   "  eth1: {backend: pcap, device: tap0, addresses: [10.1.0.2/24]}\n",
		   "t.yaml:3:3: interface \"eth1\": device \"tap0\" is already used by interface "
		   "\"eth0\" (at 2:3)");
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: tap, device: tap0, addresses: [10.0.0.2/24]}\n"
		  "  eth1: {backend: tap, device: tap1, addresses: [10.1.0.2/24]}\n");
	/* tun: a device; counts as one for the same-device check. */
	EXPECT_OK("interfaces:\n  t0: {backend: tun, device: tun0, addresses: [10.9.0.2/32]}\n");
	CU_ASSERT_EQUAL(cfg.ifaces[0].backend, US_BACKEND_TUN);
	EXPECT_ERR("interfaces:\n  t0: {backend: tun, addresses: [10.9.0.2/32]}\n",
		   "t.yaml:2:7: interface \"t0\": missing required key \"device\" (backend tun");
	EXPECT_ERR("interfaces:\n"
		   "  t0: {backend: tun, device: x0}\n"
		   "  e0: {backend: tap, device: x0}\n",
		   "t.yaml:3:3: interface \"e0\": device \"x0\" is already used by interface \"t0\"");
	/* pcap_buffer_kb: pcap only, in range. */
	EXPECT_OK("interfaces:\n  eth0: {backend: pcap, device: veth0, pcap_buffer_kb: 8192, "
		  "addresses: [10.0.0.2/24]}\n");
	CU_ASSERT_EQUAL(cfg.ifaces[0].pcap_buffer_kb, 8192);
	EXPECT_ERR("interfaces:\n  eth0: {backend: tap, device: tap0, pcap_buffer_kb: 8192}\n",
		   "t.yaml:2:38: interface \"eth0\": \"pcap_buffer_kb\" is only allowed for backend "
		   "pcap");
	EXPECT_ERR("interfaces:\n  eth0: {backend: pcap, device: veth0, pcap_buffer_kb: 100}\n",
		   "t.yaml:2:56: pcap_buffer_kb: expected an integer 256..1048576, got \"100\"");
	/* netplan spellings get a precise hint. */
	EXPECT_ERR("network:\n  version: 2\n",
		   "t.yaml:1:1: top level: unknown key \"network\": netplan's \"network:\" "
		   "wrapper is not used here: put interfaces:, routes: and nameservers: at the "
		   "top level");
	EXPECT_ERR("interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n"
		   "    gateway4: 10.0.0.1\n",
		   "t.yaml:5:5: interface \"eth0\": unknown key \"gateway4\": use routes: at top "
		   "level: routes: [{to: default, via: ADDRESS}]");
	EXPECT_ERR("interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n"
		   "    routes: [{to: default, via: 10.0.0.1}]\n",
		   "t.yaml:5:5: interface \"eth0\": unknown key \"routes\": use routes: at top "
		   "level");
	EXPECT_ERR("interfaces:\n  eth0:\n    backend: tap\n    device: tap0\n"
		   "    nameservers: {addresses: [10.0.0.1]}\n",
		   "t.yaml:5:5: interface \"eth0\": unknown key \"nameservers\": use nameservers: "
		   "at top level");
}

static void test_err_addresses(void)
{
	/* "    addresses: [" is 16 characters: the first entry is at column 17. */
	static const char *const bad[] = { "10.0.0.2", "10.0.0.256/24",
					   "10.0.0.2/", "10.0.0.2/024", "10.0.0.2/24/1",
					   "10.0.0.02/24", "10.0.2/24", "/24", "10.0.0.2/-1",
					   "fe80::1/64", "10.0.0.2 /24" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, "interfaces:\n  eth0:\n    backend: loopback\n"
			 "    addresses: [\"%s\"]\n", bad[i]);
		snprintf(want, sizeof want, "t.yaml:4:17: addresses: expected an IPv4 address with "
			 "prefix length like 10.0.0.2/24, got \"%s\"", bad[i]);
		EXPECT_ERR(y, want);
	}
	static const char *const reserved[][2] = {
		{ "0.0.0.0/0", "is the unspecified address" },
		{ "255.255.255.255/32", "is the broadcast address" },
		{ "224.0.0.1/4", "is a multicast address" },
		{ "239.255.255.255/8", "is a multicast address" },
		{ "127.0.0.1/8", "is a loopback address" },
		{ "127.255.0.9/32", "is a loopback address" },
	};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, "interfaces:\n  eth0:\n    backend: loopback\n"
			 "    addresses:\n      - %s\n", reserved[i][0]);
		snprintf(want, sizeof want, "t.yaml:5:9: addresses: %s %s", reserved[i][0],
			 reserved[i][1]);
		EXPECT_ERR(y, want);
	}
	EXPECT_OK("interfaces: {e: {backend: loopback, addresses: [223.255.255.254/0, "
		  "128.0.0.1/32, 1.0.0.0/8]}}");

	/* Gateways and static ARP entries must be usable host addresses too. */
	EXPECT_ERR(ETH0 "routes:\n"                        /* 3 */
		   "  - {to: default, via: 10.0.0}\n",     /* 4: value at 24 */
		   "t.yaml:4:24: via: expected an IPv4 address like 10.0.0.1, got \"10.0.0\"");
	EXPECT_ERR(ETH0 "routes:\n"
		   "  - {to: default, via: 224.0.0.1}\n",
		   "t.yaml:4:24: via: 224.0.0.1 is a multicast address");
	EXPECT_ERR(ETH0 "arp:\n"                                          /* 3 */
		   "  static:\n"                                          /* 4 */
		   "    - {address: 0.0.0.0, mac: 02:00:00:00:00:09}\n",  /* 5: value at 17 */
		   "t.yaml:5:17: address: 0.0.0.0 is the unspecified address");

	/* Route destinations: "default" or a network with no host bits. */
	EXPECT_ERR(ETH0 "routes:\n"
		   "  - to: 10.1.2.3/16\n"                 /* 4: value at 9 */
		   "    via: 10.0.0.1\n",
		   "t.yaml:4:9: to: 10.1.2.3/16 has host bits set (the network is 10.1.0.0/16)");
	EXPECT_ERR(ETH0 "routes:\n"
		   "  - to: Default\n"
		   "    via: 10.0.0.1\n",
		   "t.yaml:4:9: to: expected \"default\" or a network like 10.1.0.0/16, "
		   "got \"Default\"");
	EXPECT_OK(ETH0 "routes: [{to: 0.0.0.0/0, via: 10.0.0.1}, {to: 10.0.0.0/8, via: 10.0.0.1},"
		  " {to: 10.0.0.77/32, interface: eth0}]\n");
	CU_ASSERT_EQUAL(cfg.routes[0].to.prefix, 0);
	CU_ASSERT_EQUAL(cfg.routes[2].to.prefix, 32);
}

static void test_err_mac(void)
{
	/* "    macaddress: " is 16 characters. */
	static const char *const bad[] = { "02:00:00:00:00", "02:00:00:00:00:0g",
					   "02-00-00-00-00-01", "2:0:0:0:0:1", "02:00:00:00:00:01:02",
					   "0200.0000.0001", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, "interfaces:\n  eth0:\n    backend: loopback\n"
			 "    macaddress: \"%s\"\n", bad[i]);
		snprintf(want, sizeof want, "t.yaml:4:17: macaddress: expected a MAC address like "
			 "02:00:00:00:00:01, got \"%s\"", bad[i]);
		EXPECT_ERR(y, want);
	}
	static const char *const reserved[][2] = {
		{ "00:00:00:00:00:00", "is all zero" },
		{ "ff:ff:ff:ff:ff:ff", "is the broadcast address" },
		{ "01:00:5e:00:00:01", "is a multicast address" },
		{ "33:33:00:00:00:01", "is a multicast address" },
	};
	for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, "interfaces:\n  eth0:\n    backend: loopback\n"
			 "    macaddress: %s\n", reserved[i][0]);
		snprintf(want, sizeof want, "t.yaml:4:17: macaddress: %s %s", reserved[i][0],
			 reserved[i][1]);
		EXPECT_ERR(y, want);
	}
	EXPECT_ERR(ETH0 "arp:\n"
		   "  static:\n"
		   "    - address: 10.0.0.9\n"             /* 5 */
		   "      mac: 01:00:00:00:00:09\n",       /* 6: value at 12 */
		   "t.yaml:6:12: mac: 01:00:00:00:00:09 is a multicast address");
	EXPECT_OK("interfaces: {e: {backend: loopback, macaddress: FE:dc:BA:98:76:54}}");
	CU_ASSERT_EQUAL(cfg.ifaces[0].mac[0], 0xfe);
	CU_ASSERT_EQUAL(cfg.ifaces[0].mac[5], 0x54);
}

static void test_err_missing_required(void)
{
	EXPECT_ERR("interfaces:\n"            /* 1 */
		   "  eth0:\n"                /* 2 */
		   "    device: tap0\n"       /* 3: the mapping starts at column 5 */
		   "    mtu: 1500\n",
		   "t.yaml:3:5: interface \"eth0\": missing required key \"backend\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {device: tap0}\n",      /* 2: "{" at 9 */
		   "t.yaml:2:9: interface \"eth0\": missing required key \"backend\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0:\n",                     /* 2: the empty value, just after ":" */
		   "t.yaml:2:8: interface \"eth0\": missing required key \"backend\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0:\n"
		   "    mtu: 1500\n"                /* 3 */
		   "    backend: pcap\n",
		   "t.yaml:3:5: interface \"eth0\": missing required key \"device\" "
		   "(backend pcap needs it)");
	EXPECT_ERR("interfaces: {p: {backend: pair}}\n",       /* "{" at 17 */
		   "t.yaml:1:17: interface \"p\": missing required key \"device\"");
	EXPECT_ERR("interfaces: {f: {backend: pcap-file, output: o.pcap}}\n",
		   "t.yaml:1:17: interface \"f\": missing required key \"device\"");
	EXPECT_ERR(ETH0 "routes:\n"            /* 3 */
		   "  - via: 10.0.0.1\n",      /* 4: mapping at 5 */
		   "t.yaml:4:5: route: missing required key \"to\"");
	EXPECT_ERR(ETH0 "routes:\n"            /* 3 */
		   "  -\n",                    /* 4: empty entry, just after "-" */
		   "t.yaml:4:4: route: missing required key \"to\"");
	EXPECT_ERR(ETH0 "arp:\n"                      /* 3 */
		   "  static:\n"                      /* 4 */
		   "    - address: 10.0.0.9\n",       /* 5: mapping at 7 */
		   "t.yaml:5:7: static ARP entry: missing required key \"mac\"");
}

/* queues: N (multiqueue TAP/TUN, issue 10): 1..16, tap or tun only, not with impair. */
/* stack.ip_local_port_range (Linux's net.ipv4.ip_local_port_range). */
static void test_port_range(void)
{
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: tap, device: t}\n");
	CU_ASSERT_EQUAL(cfg.port_lo, 0);                /* 0, 0: 49152..65535 */
	CU_ASSERT_EQUAL(cfg.port_hi, 0);
	EXPECT_OK("stack: {ip_local_port_range: [32768, 60999]}\n"
		  "interfaces:\n"
		  "  eth0: {backend: tap, device: t}\n");
	CU_ASSERT_EQUAL(cfg.port_lo, 32768);
	CU_ASSERT_EQUAL(cfg.port_hi, 60999);
	EXPECT_OK("stack:\n"
		  "  ip_local_port_range:\n"
		  "    - 7\n"
		  "    - 7\n"
		  "interfaces:\n"
		  "  eth0: {backend: tap, device: t}\n");
	CU_ASSERT_EQUAL(cfg.port_lo, 7);
	CU_ASSERT_EQUAL(cfg.port_hi, 7);
	/*          1234567890123456789012345678901 */
	EXPECT_ERR("stack: {ip_local_port_range: [60999, 32768]}\n"
		   "interfaces:\n"
		   "  eth0: {backend: tap, device: t}\n",
		   "t.yaml:1:30: ip_local_port_range: low port 60999 is above high port 32768");
	EXPECT_ERR("stack: {ip_local_port_range: [0, 10]}\n"
		   "interfaces:\n"
		   "  eth0: {backend: tap, device: t}\n",
		   "t.yaml:1:31: ip_local_port_range: expected an integer 1..65535, got \"0\"");
	EXPECT_ERR("stack: {ip_local_port_range: [1, 65536]}\n"
		   "interfaces:\n"
		   "  eth0: {backend: tap, device: t}\n",
		   "t.yaml:1:34: ip_local_port_range: expected an integer 1..65535, got \"65536\"");
	EXPECT_ERR("stack: {ip_local_port_range: 49152}\n"
		   "interfaces:\n"
		   "  eth0: {backend: tap, device: t}\n",
		   "t.yaml:1:30: ip_local_port_range: expected a sequence of two ports [LOW, HIGH]");
	EXPECT_ERR("stack: {ip_local_port_range: [1, 2, 3]}\n"
		   "interfaces:\n"
		   "  eth0: {backend: tap, device: t}\n",
		   "t.yaml:1:30: ip_local_port_range: expected a sequence of two ports [LOW, HIGH]");
	/* A hand-built config is checked too, and the dump gives the range back. */
	us_config_init(&cfg2);
	cfg2.nifaces = 1;
	cfg2.ifaces[0].backend = US_BACKEND_TAP;
	snprintf(cfg2.ifaces[0].name, sizeof cfg2.ifaces[0].name, "eth0");
	snprintf(cfg2.ifaces[0].device, sizeof cfg2.ifaces[0].device, "t");
	cfg2.port_hi = 5;
	CU_ASSERT_EQUAL(us_config_validate(&cfg2, err, sizeof err), -1);
	CU_ASSERT(err_is("<config>: stack: ip_local_port_range 0..5: expected 1 <= low <= high"));
	cfg2.port_lo = 6;
	CU_ASSERT_EQUAL(us_config_validate(&cfg2, err, sizeof err), -1);
	cfg2.port_lo = 5;
	CU_ASSERT_EQUAL(us_config_validate(&cfg2, err, sizeof err), 0);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	us_config_dump(&cfg2, f);
	fclose(f);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "  ip_local_port_range: [5, 5]\n"));
	free(text);
}

static void test_queues(void)
{
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: tap, device: t}\n");
	CU_ASSERT_EQUAL(cfg.ifaces[0].queues, 1);                 /* the default */
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: tap, device: t, queues: 16}\n"
		  "  tun0: {backend: tun, device: u, queues: 2}\n");
	CU_ASSERT_EQUAL(cfg.ifaces[0].queues, 16);
	CU_ASSERT_EQUAL(cfg.ifaces[1].queues, 2);
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: pcap, device: t, queues: 1}\n");
	/*          123456789012345678901234567890123456789012 */
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: t, queues: 17}\n",
		   "t.yaml:2:43: queues: expected an integer 1..16, got \"17\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: t, queues: 0}\n",
		   "t.yaml:2:43: queues: expected an integer 1..16, got \"0\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: t, queues: two}\n",
		   "t.yaml:2:43: queues: expected an integer 1..16, got \"two\"");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: pcap, device: t, queues: 2}\n",
		   "t.yaml:2:36: interface \"eth0\": \"queues\" above 1 is only allowed for "
		   "backend tap or tun (IFF_MULTI_QUEUE)");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: t, queues: 2, impair: {loss: 0.1}}\n",
		   "t.yaml:2:35: interface \"eth0\": \"queues\" above 1 does not combine with "
		   "impair (the impair layer has one queue)");
}

static void test_err_backend_keys(void)
{
	EXPECT_ERR("interfaces:\n"
		   "  lo:\n"
		   "    backend: loopback\n"
		   "    device: lo\n",            /* 4 */
		   "t.yaml:4:5: interface \"lo\": \"device\" is not allowed for backend loopback");
	EXPECT_ERR("interfaces:\n"                /* 1 */
		   "  eth0:\n"                    /* 2 */
		   "    backend: tap\n"           /* 3 */
		   "    device: tap0\n"           /* 4 */
		   "    output: x.pcap\n",        /* 5 */
		   "t.yaml:5:5: interface \"eth0\": \"output\" is only allowed for backend pcap-file");
	/*          123456789012345678901234567890123456789 */
	/* impair on any backend (issue 11): flat keys are both directions, or
	 * in:/out:, not both (except on a pair wire, whose flat keys are its own). */
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: tap, device: t, impair: {loss: 0.5}}\n");
	CU_ASSERT_DOUBLE_EQUAL(cfg.ifaces[0].impair.loss, 0.5, 1e-12);
	EXPECT_OK("interfaces:\n"
		  "  eth0: {backend: pcap, device: t, impair: {in: {loss: 0.25}, out: {delay_ms: 5}}}\n");
	CU_ASSERT_DOUBLE_EQUAL(cfg.ifaces[0].impair_in.loss, 0.25, 1e-12);
	CU_ASSERT_EQUAL(cfg.ifaces[0].impair_out.delay_ms, 5);
	CU_ASSERT(!us_impair_is_set(&cfg.ifaces[0].impair));
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {impair: {loss: 0.1, in: {loss: 0.2}}, backend: tap, device: t}\n",
		   "t.yaml:2:10: interface \"eth0\": impair: give either the impairment keys "
		   "(both directions) or in: and out:, not both");
	EXPECT_OK("interfaces:\n"
		  "  p0: {backend: pair, device: w, impair: {loss: 0.1, out: {loss: 0.2}}}\n");
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: t, impair: {in: {los: 0.2}}}\n",
		   "t.yaml:2:49: impair.in: unknown key \"los\"");
	EXPECT_OK("interfaces: {f: {backend: pcap-file, device: in.pcap}}\n");
}

static void test_err_routes(void)
{
	EXPECT_ERR("interfaces:\n"                                                      /* 1 */
		   "  eth0: {backend: tap, device: tap0, addresses: [10.0.0.2/24]}\n"   /* 2 */
		   "routes:\n"                                                          /* 3 */
		   "  - to: default\n"                                                  /* 4 */
		   "    via: 10.1.0.1\n",                                               /* 5 */
		   "t.yaml:4:5: route to default: gateway 10.1.0.1 is not inside any interface's "
		   "subnet");
	EXPECT_ERR(ETH0 "routes:\n"
		   "  - {to: default, via: 10.0.0.1}\n"                   /* 4 */
		   "  - {to: 10.5.0.0/16, via: 10.0.0.1, interface: eth9}\n",  /* 5 */
		   "t.yaml:5:5: route to 10.5.0.0/16: interface \"eth9\" is not configured");
	EXPECT_ERR(ETH0 "routes:\n"
		   "  - {to: 10.5.0.0/16}\n",
		   "t.yaml:4:5: route to 10.5.0.0/16: needs \"via\" or \"interface\"");
	/* Naming the interface makes any gateway acceptable (on-link). */
	EXPECT_OK(ETH0 "routes:\n"
		  "  - {to: default, via: 192.168.1.1, interface: eth0}\n");
	/* Any address of any interface will do, in whatever order the sections come. */
	EXPECT_OK("routes:\n"
		  "  - {to: default, via: 172.16.9.9}\n"
		  "interfaces:\n"
		  "  a: {backend: loopback, addresses: [10.0.0.1/24]}\n"
		  "  b: {backend: loopback, addresses: [192.168.0.1/24, 172.16.0.1/16]}\n");
}

static void test_err_too_many(void)
{
	char *y = malloc(64 * 1024), want[128];
	size_t o;

	/* Interface k (0-based) is on line k + 2. */
	o = (size_t)sprintf(y, "interfaces:\n");
	for (int k = 0; k <= US_MAX_IFACES; k++)
		o += (size_t)sprintf(y + o, "  l%d: {backend: loopback}\n", k);
	snprintf(want, sizeof want, "t.yaml:%d:3: interfaces: too many entries (at most %d)",
		 US_MAX_IFACES + 2, US_MAX_IFACES);
	EXPECT_ERR(y, want);

	/* Address k (0-based) is on line k + 5, after "      - ". */
	o = (size_t)sprintf(y, "interfaces:\n  e:\n    backend: loopback\n    addresses:\n");
	for (int k = 0; k <= US_MAX_ADDRS; k++)
		o += (size_t)sprintf(y + o, "      - 10.0.%d.1/24\n", k);
	snprintf(want, sizeof want, "t.yaml:%d:9: addresses: too many entries (at most %d)",
		 US_MAX_ADDRS + 5, US_MAX_ADDRS);
	EXPECT_ERR(y, want);

	/* Route k (0-based) is on line k + 4 (after the two lines of ETH0 and "routes:"). */
	o = (size_t)sprintf(y, ETH0 "routes:\n");
	for (int k = 0; k <= US_MAX_ROUTES; k++)
		o += (size_t)sprintf(y + o, "  - {to: 10.%d.0.0/16, via: 10.0.0.1}\n", k + 1);
	snprintf(want, sizeof want, "t.yaml:%d:5: routes: too many entries (at most %d)",
		 US_MAX_ROUTES + 4, US_MAX_ROUTES);
	EXPECT_ERR(y, want);

	/* Entry k (0-based) is on line k + 5. */
	o = (size_t)sprintf(y, ETH0 "arp:\n  static:\n");
	for (int k = 0; k <= US_MAX_STATIC_ARP; k++)
		o += (size_t)sprintf(y + o, "    - {address: 10.0.1.%d, mac: 02:00:00:00:00:01}\n",
				     k + 1);
	snprintf(want, sizeof want, "t.yaml:%d:7: static: too many entries (at most %d)",
		 US_MAX_STATIC_ARP + 5, US_MAX_STATIC_ARP);
	EXPECT_ERR(y, want);

	/* Exactly the maximum is fine. */
	o = (size_t)sprintf(y, ETH0 "routes:\n");
	for (int k = 0; k < US_MAX_ROUTES; k++)
		o += (size_t)sprintf(y + o, "  - {to: 10.%d.0.0/16, via: 10.0.0.1}\n", k + 1);
	EXPECT_OK(y);
	CU_ASSERT_EQUAL(cfg.nroutes, US_MAX_ROUTES);
	free(y);
}

static void test_err_duplicate_address(void)
{
	/*          1234567890123456789012345678901234567890123456789012345678901 */
	EXPECT_ERR("interfaces:\n"
		   "  eth0: {backend: tap, device: t0, addresses: [10.0.0.2/24]}\n"
		   "  eth1: {backend: tap, device: t1, addresses: [10.0.1.1/24, 10.0.0.2/16]}\n",
		   "t.yaml:3:61: addresses: duplicate address 10.0.0.2 (also on interface \"eth0\")");
	/* "    addresses: [" is 16 characters, "10.0.0.2/24, " 13. */
	EXPECT_ERR("interfaces:\n"
		   "  eth0:\n"
		   "    backend: loopback\n"
		   "    addresses: [10.0.0.2/24, 10.0.0.2/24]\n",
		   "t.yaml:4:30: addresses: duplicate address 10.0.0.2 (also on interface \"eth0\")");
	/* "    - {address: " is 16 characters. */
	EXPECT_ERR(ETH0 "arp:\n"                                           /* 3 */
		   "  static:\n"                                           /* 4 */
		   "    - {address: 10.0.0.9, mac: 02:00:00:00:00:09}\n"   /* 5 */
		   "    - {address: 10.0.0.9, mac: 02:00:00:00:00:0a}\n",  /* 6 */
		   "t.yaml:6:17: address: duplicate static ARP entry for 10.0.0.9");
}

static void test_err_ifname(void)
{
	EXPECT_OK("interfaces: {abcdefghijklmno: {backend: loopback}, A_b.c-9: "
		  "{backend: loopback}}\n");
	EXPECT_ERR("interfaces:\n"
		   "  abcdefghijklmnop: {backend: loopback}\n",
		   "t.yaml:2:3: interface name \"abcdefghijklmnop\" must be 1..15 characters long");
	EXPECT_ERR("interfaces:\n"
		   "  eth 0: {backend: loopback}\n",
		   "t.yaml:2:3: interface name \"eth 0\" may only contain letters, digits, '_', '.' "
		   "and '-'");
	EXPECT_ERR("interfaces:\n"
		   "  eth/0: {backend: loopback}\n",
		   "t.yaml:2:3: interface name \"eth/0\" may only contain");
	EXPECT_ERR("interfaces:\n"
		   "  \"\": {backend: loopback}\n",
		   "t.yaml:2:3: interface name \"\" must be 1..15 characters long");
}

/* ---- errors: nameservers, hosts, tcp, services -------------------------- */

static void test_err_nameservers(void)
{
	EXPECT_ERR(ETH0 "nameservers:\n"                 /* 3 */
		   "  addresses: [10.0.0.1]\n"           /* 4 */
		   "  timeout: 5\n",                     /* 5 */
		   "t.yaml:5:3: nameservers: unknown key \"timeout\" (expected one of: addresses, "
		   "search, timeout_ms, attempts)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:5:3: nameservers: unknown key \"timeout\" (expected "
				    "one of: addresses, search, timeout_ms, attempts)");
	EXPECT_ERR(ETH0 "nameservers: [10.0.0.1]\n",    /* "[" at 14 */
		   "t.yaml:3:14: nameservers: expected a mapping, got a sequence");

	/* addresses is required, and may not be empty. */
	EXPECT_ERR(ETH0 "nameservers: {search: [test]}\n",          /* "{" at 14 */
		   "t.yaml:3:14: nameservers: missing required key \"addresses\"");
	EXPECT_ERR(ETH0 "nameservers:\n",                           /* just after ":" */
		   "t.yaml:3:13: nameservers: missing required key \"addresses\"");
	/*               1234567890123456789012345678 */
	EXPECT_ERR(ETH0 "nameservers: {addresses: []}\n",
		   "t.yaml:3:26: addresses: expected 1..3 IPv4 addresses, got none");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:3:26: addresses: expected 1..3 IPv4 addresses, "
				    "got none");
	EXPECT_ERR(ETH0 "nameservers:\n"                 /* 3 */
		   "  addresses:\n"                      /* 4: null just after ":", column 13 */
		   "  search: [test]\n",                 /* 5 */
		   "t.yaml:4:13: addresses: expected 1..3 IPv4 addresses, got none");
	EXPECT_ERR(ETH0 "nameservers: {addresses: 10.0.0.1}\n",     /* value at 26 */
		   "t.yaml:3:26: addresses: expected a sequence, got \"10.0.0.1\"");

	/* "nameservers: {addresses: [" is 26 characters; each "10.0.0.N, " 10 more. */
	EXPECT_ERR(ETH0 "nameservers: {addresses: [10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4]}\n",
		   "t.yaml:3:57: addresses: too many entries (at most 3)");
	EXPECT_ERR(ETH0 "nameservers: {addresses: [10.0.0.1, 10.0.0.1]}\n",
		   "t.yaml:3:37: addresses: duplicate nameserver 10.0.0.1");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:3:37: addresses: duplicate nameserver 10.0.0.1");
	/* "    - " is 6 characters. */
	EXPECT_ERR(ETH0 "nameservers:\n"                 /* 3 */
		   "  addresses:\n"                      /* 4 */
		   "    - 10.0.0\n",                     /* 5 */
		   "t.yaml:5:7: addresses: expected an IPv4 address like 10.0.0.1, got \"10.0.0\"");
	EXPECT_ERR(ETH0 "nameservers:\n"
		   "  addresses:\n"
		   "    - 127.0.0.53\n",
		   "t.yaml:5:7: addresses: 127.0.0.53 is a loopback address");
	EXPECT_ERR(ETH0 "nameservers:\n"
		   "  addresses:\n"
		   "    - 224.0.0.251\n",
		   "t.yaml:5:7: addresses: 224.0.0.251 is a multicast address");

	/* Search domains: "  search: [" is 11 characters, the first entry is at column 12. */
	char long_label[80], too_long[300], longest[300];
	memset(long_label, 'a', 64);
	strcpy(long_label + 64, ".org");                          /* a 64-character label */
	memset(too_long, 'b', 254);
	too_long[254] = '\0';
	for (int i = 0; i < 253; i++)                             /* 63.63.63.61 = 253 */
		longest[i] = (i == 63 || i == 127 || i == 191) ? '.' : 'c';
	longest[253] = '\0';
	const char *const bad[][2] = {
		{ "exa_mple.org", "may only contain letters, digits, '-' and '.'" },
		{ "exa mple.org", "may only contain letters, digits, '-' and '.'" },
		{ "ex\xc3\xa9.org", "may only contain letters, digits, '-' and '.'" },
		{ "example..org", "has an empty label (a leading, trailing or double '.')" },
		{ ".example.org", "has an empty label (a leading, trailing or double '.')" },
		{ "example.org.", "has an empty label (a leading, trailing or double '.')" },
		{ "-ex.org", "has a label that starts or ends with '-'" },
		{ "ex.org-", "has a label that starts or ends with '-'" },
		{ "ex-.org", "has a label that starts or ends with '-'" },
		{ "", "must be 1..253 characters long" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char y[512], want[512], q[256];
		/* The quoted form in the message: non-ASCII bytes as \xNN. */
		size_t o = 0;
		for (const unsigned char *c = (const unsigned char *)bad[i][0]; *c; c++)
			o += (size_t)(*c >= 0x7f ? sprintf(q + o, "\\x%02x", *c)
						 : sprintf(q + o, "%c", *c));
		q[o] = '\0';
		snprintf(y, sizeof y, ETH0 "nameservers:\n  search: [\"%s\"]\n"
			 "  addresses: [10.0.0.1]\n", bad[i][0]);
		snprintf(want, sizeof want, "t.yaml:4:12: search: \"%s\" %s", q, bad[i][1]);
		EXPECT_ERR(y, want);
		CU_ASSERT_STRING_EQUAL(err, want);
	}
	{
		/* Long names are quoted in part only, like every value in a message. */
		char y[600];
		snprintf(y, sizeof y, ETH0 "nameservers:\n  search: [%s]\n", long_label);
		EXPECT_ERR(y, "t.yaml:4:12: search: \"aaaaaaaaaa");
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "...\" has a label longer than 63 characters"));
		snprintf(y, sizeof y, ETH0 "nameservers:\n  search: [%s]\n", too_long);
		EXPECT_ERR(y, "t.yaml:4:12: search: \"bbbbbbbbbb");
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "...\" must be 1..253 characters long"));
		snprintf(y, sizeof y, ETH0 "nameservers:\n  search: [%s, x%s]\n"
			 "  addresses: [10.0.0.1]\n", longest, long_label + 2);
		EXPECT_OK(y);
		CU_ASSERT_EQUAL(strlen(cfg.search[0]), 253);
		CU_ASSERT_EQUAL(strlen(cfg.search[1]), 63 + 4);  /* a 63-character label is fine */
	}
	/* Entries at 12, 15, 18, ...: the seventh at 30. */
	EXPECT_ERR(ETH0 "nameservers:\n"                                 /* 3 */
		   "  search: [a, b, c, d, e, f, g]\n",                  /* 4 */
		   "t.yaml:4:30: search: too many entries (at most 6)");
	/*                        1234567890123456789012345678901 */
	EXPECT_ERR(ETH0 "nameservers:\n"
		   "  search: [example.org, Test, EXAMPLE.ORG]\n",
		   "t.yaml:4:31: search: duplicate domain \"EXAMPLE.ORG\"");
	EXPECT_ERR(ETH0 "nameservers:\n"
		   "  search: test\n",                                   /* value at 11 */
		   "t.yaml:4:11: search: expected a sequence, got \"test\"");
	EXPECT_ERR(ETH0 "nameservers:\n"
		   "  search: [{a: b}]\n",
		   "t.yaml:4:12: search: expected a domain name, got a mapping");
	EXPECT_ERR(ETH0 "nameservers:\n"
		   "  search: [~]\n",
		   "t.yaml:4:12: search: expected a domain name, got null");

	/* "nameservers: {addresses: [10.0.0.1], " is 37 characters. */
	EXPECT_ERR(ETH0 "nameservers: {addresses: [10.0.0.1], timeout_ms: 0}\n",
		   "t.yaml:3:50: timeout_ms: expected an integer 1..60000, got \"0\"");
	EXPECT_ERR(ETH0 "nameservers: {addresses: [10.0.0.1], timeout_ms: 60001}\n",
		   "t.yaml:3:50: timeout_ms: expected an integer 1..60000, got \"60001\"");
	EXPECT_ERR(ETH0 "nameservers: {addresses: [10.0.0.1], attempts: 0}\n",
		   "t.yaml:3:48: attempts: expected an integer 1..10, got \"0\"");
	EXPECT_ERR(ETH0 "nameservers: {addresses: [10.0.0.1], attempts: 11}\n",
		   "t.yaml:3:48: attempts: expected an integer 1..10, got \"11\"");
	EXPECT_OK(ETH0 "nameservers: {addresses: [10.0.0.1], timeout_ms: 1, attempts: 1}\n");
	CU_ASSERT_EQUAL(cfg.dns_timeout_ms, 1);
	CU_ASSERT_EQUAL(cfg.dns_attempts, 1);
}

static void test_err_hosts(void)
{
	EXPECT_ERR(ETH0 "hosts: [files.test]\n",                 /* "[" at 8 */
		   "t.yaml:3:8: hosts: expected a mapping of host names to IPv4 addresses, "
		   "got a sequence");
	EXPECT_ERR(ETH0 "hosts: files.test\n",
		   "t.yaml:3:8: hosts: expected a mapping of host names to IPv4 addresses, "
		   "got \"files.test\"");
	EXPECT_ERR(ETH0 "hosts:\n"                               /* 3 */
		   "  files.test: 10.0.0.1\n"                    /* 4 */
		   "  bad_name: 10.0.0.2\n",                     /* 5 */
		   "t.yaml:5:3: hosts: \"bad_name\" may only contain letters, digits, '-' and '.'");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:5:3: hosts: \"bad_name\" may only contain letters, "
				    "digits, '-' and '.'");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  files.test.: 10.0.0.1\n",
		   "t.yaml:4:3: hosts: \"files.test.\" has an empty label");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  \"\": 10.0.0.1\n",
		   "t.yaml:4:3: hosts: \"\" must be 1..253 characters long");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  ? [a]\n"                                   /* 4: "[" at 5 */
		   "  : 10.0.0.1\n",
		   "t.yaml:4:5: hosts: expected a host name, got a sequence");

	/* Duplicates, also when only the case differs; pointed at the second. */
	EXPECT_ERR(ETH0 "hosts:\n"                               /* 3 */
		   "  files.test: 10.0.0.1\n"                    /* 4 */
		   "  files.test: 10.0.0.2\n",                   /* 5 */
		   "t.yaml:5:3: hosts: duplicate name \"files.test\" (first at 4:3)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:5:3: hosts: duplicate name \"files.test\" "
				    "(first at 4:3)");
	EXPECT_ERR(ETH0 "hosts:\n"                               /* 3 */
		   "  files.test: 10.0.0.1\n"                    /* 4 */
		   "  www: 10.0.0.2\n"                           /* 5 */
		   "  Files.TEST: 10.0.0.3\n",                   /* 6 */
		   "t.yaml:6:3: hosts: duplicate name \"Files.TEST\" (first at 4:3 as "
		   "\"files.test\"; names are case-insensitive)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:6:3: hosts: duplicate name \"Files.TEST\" (first at "
				    "4:3 as \"files.test\"; names are case-insensitive)");

	/* Addresses: "  files.test: " is 14 characters. */
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  files.test: 10.0.0\n",
		   "t.yaml:4:15: host \"files.test\": expected an IPv4 address like 10.0.0.1, "
		   "got \"10.0.0\"");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:15: host \"files.test\": expected an IPv4 address "
				    "like 10.0.0.1, got \"10.0.0\"");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  files.test:\n",                             /* null just after ":" */
		   "t.yaml:4:14: host \"files.test\": expected an IPv4 address like 10.0.0.1, "
		   "got null");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  files.test: [10.0.0.1]\n",
		   "t.yaml:4:15: host \"files.test\": expected an IPv4 address like 10.0.0.1, "
		   "got a sequence");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  localhost: 127.0.0.1\n",                    /* value at 14 */
		   "t.yaml:4:14: host \"localhost\": 127.0.0.1 is a loopback address");
	EXPECT_ERR(ETH0 "hosts:\n"
		   "  bcast: 255.255.255.255\n",                  /* value at 10 */
		   "t.yaml:4:10: host \"bcast\": 255.255.255.255 is the broadcast address");

	/* Entry k (0-based) is on line k + 4. */
	char *y = malloc(64 * 1024), want[128];
	size_t o = (size_t)sprintf(y, ETH0 "hosts:\n");
	for (int k = 0; k < US_MAX_HOSTS; k++)
		o += (size_t)sprintf(y + o, "  h%d: 10.0.1.%d\n", k, k + 1);
	EXPECT_OK(y);
	CU_ASSERT_EQUAL(cfg.nhosts, US_MAX_HOSTS);
	sprintf(y + o, "  h%d: 10.0.1.%d\n", US_MAX_HOSTS, US_MAX_HOSTS + 1);
	snprintf(want, sizeof want, "t.yaml:%d:3: hosts: too many entries (at most %d)",
		 US_MAX_HOSTS + 4, US_MAX_HOSTS);
	EXPECT_ERR(y, want);
	free(y);
}

static void test_err_tcp(void)
{
	/*               123456789012345678 */
	EXPECT_ERR(ETH0 "tcp: {mss: 1460, nagle: false}\n",
		   "t.yaml:3:18: tcp: unknown key \"nagle\" (expected one of: mss, sndbuf, rcvbuf, "
		   "nodelay, delayed_ack_ms, rto_min_ms, rto_initial_ms, retries, syn_retries, "
		   "time_wait_s, congestion, window_scaling, timestamps, sack, rack, syncookies)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:3:18: tcp: unknown key \"nagle\" (expected one of: "
				    "mss, sndbuf, rcvbuf, nodelay, delayed_ack_ms, rto_min_ms, "
				    "rto_initial_ms, retries, syn_retries, time_wait_s, congestion, "
				    "window_scaling, timestamps, sack, rack, syncookies)");
	EXPECT_ERR(ETH0 "tcp: [mss]\n", "t.yaml:3:6: tcp: expected a mapping, got a sequence");

	/* "  KEY: " is strlen(KEY) + 4 characters: values start at strlen(KEY) + 5. */
	static const char *const bad[][3] = {
		{ "mss", "87", "88..65495" },
		{ "mss", "65496", "88..65495" },
		{ "sndbuf", "4095", "4096..67108864" },
		{ "sndbuf", "67108865", "4096..67108864" },
		{ "rcvbuf", "4095", "4096..67108864" },
		{ "rcvbuf", "67108865", "4096..67108864" },
		{ "delayed_ack_ms", "501", "0..500" },
		{ "delayed_ack_ms", "-1", "0..500" },
		{ "rto_min_ms", "0", "1..60000" },
		{ "rto_min_ms", "60001", "1..60000" },
		{ "rto_initial_ms", "0", "1..60000" },
		{ "rto_initial_ms", "60001", "1..60000" },
		{ "retries", "0", "1..255" },
		{ "retries", "256", "1..255" },
		{ "syn_retries", "0", "1..255" },
		{ "syn_retries", "256", "1..255" },
		{ "time_wait_s", "601", "0..600" },
		{ "time_wait_s", "1.5", "0..600" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, ETH0 "tcp:\n  %s: %s\n", bad[i][0], bad[i][1]);
		snprintf(want, sizeof want, "t.yaml:4:%zu: %s: expected an integer %s, got \"%s\"",
			 strlen(bad[i][0]) + 5, bad[i][0], bad[i][2], bad[i][1]);
		EXPECT_ERR(y, want);
		CU_ASSERT_STRING_EQUAL(err, want);
	}
	EXPECT_OK(ETH0 "tcp: {delayed_ack_ms: 500, time_wait_s: 600, mss: 65495, sndbuf: 67108864,"
		  " rcvbuf: 4096, retries: 1, syn_retries: 255, rto_min_ms: 60000, "
		  "rto_initial_ms: 60000}\n");
	CU_ASSERT_EQUAL(cfg.tcp.delayed_ack_ms, 500);
	CU_ASSERT_EQUAL(cfg.tcp.time_wait_s, 600);

	/* Booleans are exactly true or false. */
	static const char *const bools[] = { "nodelay", "window_scaling", "timestamps", "sack",
						     "rack", "syncookies" };
	static const char *const bad_bool[] = { "yes", "no", "True", "FALSE", "1", "0", "on", "" };
	for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
		for (size_t j = 0; j < sizeof bad_bool / sizeof bad_bool[0]; j++) {
			char y[256], want[256];
			snprintf(y, sizeof y, ETH0 "tcp:\n  %s: \"%s\"\n", bools[i], bad_bool[j]);
			snprintf(want, sizeof want,
				 "t.yaml:4:%zu: %s: expected true or false, got \"%s\"",
				 strlen(bools[i]) + 5, bools[i], bad_bool[j]);
			EXPECT_ERR(y, want);
			CU_ASSERT_STRING_EQUAL(err, want);
		}
	EXPECT_ERR(ETH0 "tcp:\n  nodelay:\n",              /* null just after ":" */
		   "t.yaml:4:11: nodelay: expected true or false, got null");

	/* "  congestion: " is 14 characters. */
	EXPECT_ERR(ETH0 "tcp:\n  congestion: vegas\n",
		   "t.yaml:4:15: congestion: unknown congestion \"vegas\" (expected one of: cubic, newreno)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:15: congestion: unknown congestion \"vegas\" "
				    "(expected one of: cubic, newreno)");
	/* Linux's name for NewReno is an alias, stored as the canonical name. */
	EXPECT_OK(ETH0 "tcp:\n  congestion: reno\n");
	CU_ASSERT_STRING_EQUAL(cfg.tcp.congestion, "newreno");
	EXPECT_OK(ETH0 "tcp:\n  congestion: \"reno\"\n");
	CU_ASSERT_STRING_EQUAL(cfg.tcp.congestion, "newreno");
	EXPECT_ERR(ETH0 "tcp:\n  congestion: Reno\n",
		   "t.yaml:4:15: congestion: unknown congestion \"Reno\"");
	EXPECT_ERR(ETH0 "tcp:\n  congestion: NewReno\n",
		   "t.yaml:4:15: congestion: unknown congestion \"NewReno\"");
	EXPECT_ERR(ETH0 "tcp:\n  congestion: [newreno]\n",
		   "t.yaml:4:15: congestion: expected one of: cubic, newreno, got a sequence");

	/* rto_initial_ms < rto_min_ms: at rto_initial_ms's value ("  rto_initial_ms: " is 18). */
	EXPECT_ERR(ETH0 "tcp:\n"                           /* 3 */
		   "  rto_min_ms: 300\n"                   /* 4 */
		   "  rto_initial_ms: 299\n",              /* 5 */
		   "t.yaml:5:19: tcp: rto_initial_ms 299 is less than rto_min_ms 300");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:5:19: tcp: rto_initial_ms 299 is less than rto_min_ms "
				    "300");
	EXPECT_ERR(ETH0 "tcp:\n"
		   "  rto_initial_ms: 299\n"               /* 4 */
		   "  rto_min_ms: 300\n",                  /* 5 */
		   "t.yaml:4:19: tcp: rto_initial_ms 299 is less than rto_min_ms 300");
	/* Against the other's default; with rto_initial_ms defaulted, at rto_min_ms's value. */
	EXPECT_ERR(ETH0 "tcp:\n"
		   "  rto_initial_ms: 199\n",
		   "t.yaml:4:19: tcp: rto_initial_ms 199 is less than rto_min_ms 200");
	EXPECT_ERR(ETH0 "tcp:\n"
		   "  rto_min_ms: 1001\n",                 /* "  rto_min_ms: " is 14 */
		   "t.yaml:4:15: tcp: rto_initial_ms 1000 is less than rto_min_ms 1001");
	EXPECT_OK(ETH0 "tcp: {rto_min_ms: 1000}\n");
}

static void test_err_services(void)
{
	EXPECT_ERR(ETH0 "services: {type: echo}\n",         /* "{" at 11 */
		   "t.yaml:3:11: services: expected a sequence, got a mapping");
	EXPECT_ERR(ETH0 "services:\n"                       /* 3 */
		   "  - echo\n",                            /* 4 */
		   "t.yaml:4:5: service: expected a mapping, got \"echo\"");
	/*                 1234567890123456789012345678 */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: http, port: 80, path: /srv}\n",
		   "t.yaml:4:28: service: unknown key \"path\" (expected one of: type, proto, port, "
		   "root, max_connections)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:28: service: unknown key \"path\" (expected one of: "
				    "type, proto, port, root, max_connections)");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {port: 7}\n",
		   "t.yaml:4:5: service: missing required key \"type\"");
	EXPECT_ERR(ETH0 "services:\n"
		   "  -\n",                                 /* just after "-" */
		   "t.yaml:4:4: service: missing required key \"type\"");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - type: echo\n"                       /* 4: the mapping at 5 */
		   "    proto: udp\n",
		   "t.yaml:4:5: service: missing required key \"port\"");
	/* "  - {type: " is 11 characters. */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: ftp, port: 21}\n",
		   "t.yaml:4:12: type: unknown type \"ftp\" (expected one of: echo, discard, chargen, "
		   "http)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:12: type: unknown type \"ftp\" (expected one of: "
				    "echo, discard, chargen, http)");
	/* "  - {type: echo, proto: " is 24 characters. */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: echo, proto: sctp, port: 7}\n",
		   "t.yaml:4:25: proto: unknown proto \"sctp\" (expected one of: tcp, udp)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:25: proto: unknown proto \"sctp\" (expected one of: "
				    "tcp, udp)");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: echo, proto: TCP, port: 7}\n",
		   "t.yaml:4:25: proto: unknown proto \"TCP\"");
	/* "  - {type: echo, port: " is 23 characters. */
	static const char *const bad_port[] = { "0", "65536", "echo", "-7", "07", "7.0" };
	for (size_t i = 0; i < sizeof bad_port / sizeof bad_port[0]; i++) {
		char y[256], want[256];
		snprintf(y, sizeof y, ETH0 "services:\n  - {type: echo, port: %s}\n", bad_port[i]);
		snprintf(want, sizeof want, "t.yaml:4:24: port: expected an integer 1..65535, "
			 "got \"%s\"", bad_port[i]);
		EXPECT_ERR(y, want);
		CU_ASSERT_STRING_EQUAL(err, want);
	}

	/* root: required for http (at the entry), not allowed otherwise (at the key). */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: http, port: 80}\n",
		   "t.yaml:4:5: service http 80/tcp: missing required key \"root\" (type http "
		   "needs it)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:5: service http 80/tcp: missing required key "
				    "\"root\" (type http needs it)");
	/*                 123456789012345678901234567 */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: echo, port: 7, root: /srv}\n",
		   "t.yaml:4:27: service echo 7/tcp: \"root\" is only allowed for type http");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:27: service echo 7/tcp: \"root\" is only allowed "
				    "for type http");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: discard, root: /srv, proto: udp, port: 9}\n",  /* "root" at 21 */
		   "t.yaml:4:21: service discard 9/udp: \"root\" is only allowed for type http");
	/*                 123456789012345678901234567 */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: echo, port: 7, max_connections: 4}\n",
		   "t.yaml:4:27: service echo 7/tcp: \"max_connections\" is only allowed for type http");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: http, port: 80, root: /srv, max_connections: 2049}\n",
		   "t.yaml:4:57: max_connections: expected an integer 1..2048, got \"2049\"");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: http, port: 80, root: \"\"}\n",           /* '"' at 34 */
		   "t.yaml:4:34: root: expected a non-empty string, got \"\"");
	/* http over udp: at the proto key ("  - {type: http, " is 17 characters). */
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: http, proto: udp, port: 80, root: /srv}\n",
		   "t.yaml:4:18: service http 80/udp: type http needs proto tcp");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:4:18: service http 80/udp: type http needs proto tcp");

	/* The same proto and port twice, whatever the types: at the second entry. */
	EXPECT_ERR(ETH0 "services:\n"                                /* 3 */
		   "  - {type: echo, port: 7}\n"                     /* 4 */
		   "  - {type: echo, proto: udp, port: 7}\n"         /* 5 */
		   "  - type: discard\n"                             /* 6: the mapping at 5 */
		   "    port: 7\n",                                  /* 7 */
		   "t.yaml:6:5: service discard 7/tcp: port 7/tcp is already used by service echo "
		   "(first at 4:5)");
	CU_ASSERT_STRING_EQUAL(err, "t.yaml:6:5: service discard 7/tcp: port 7/tcp is already "
				    "used by service echo (first at 4:5)");
	EXPECT_ERR(ETH0 "services:\n"
		   "  - {type: chargen, proto: udp, port: 19}\n"     /* 4 */
		   "  - {type: discard, port: 19}\n"                 /* 5 */
		   "  - {type: echo, port: 19, proto: udp}\n",       /* 6 */
		   "t.yaml:6:5: service echo 19/udp: port 19/udp is already used by service "
		   "chargen (first at 4:5)");

	/* Entry k (0-based) is on line k + 4. */
	char *y = malloc(16 * 1024), want[128];
	size_t o = (size_t)sprintf(y, ETH0 "services:\n");
	for (int k = 0; k < US_MAX_SERVICES; k++)
		o += (size_t)sprintf(y + o, "  - {type: echo, port: %d}\n", k + 1);
	EXPECT_OK(y);
	CU_ASSERT_EQUAL(cfg.nservices, US_MAX_SERVICES);
	sprintf(y + o, "  - {type: echo, port: %d}\n", US_MAX_SERVICES + 1);
	snprintf(want, sizeof want, "t.yaml:%d:5: services: too many entries (at most %d)",
		 US_MAX_SERVICES + 4, US_MAX_SERVICES);
	EXPECT_ERR(y, want);
	free(y);
}

/* ---- us_config_validate on configs built in code ------------------------ */

/* A valid one-interface config built in code, named "x.yaml" with eth0 at 3:5. */
static void code_config(struct us_config *c)
{
	us_config_init(c);
	strcpy(c->source, "x.yaml");
	struct us_iface_config *e = &c->ifaces[0];
	strcpy(e->name, "eth0");
	e->backend = US_BACKEND_TAP;
	strcpy(e->device, "tap0");
	e->addrs[0].addr.s_addr = ip("10.0.0.2");
	e->addrs[0].prefix = 24;
	e->naddrs = 1;
	e->line = 3;
	e->column = 5;
	c->nifaces = 1;
	c->routes[0].via.s_addr = ip("10.0.0.1");
	c->routes[0].line = 9;
	c->routes[0].column = 3;
	c->nroutes = 1;
}

#define EXPECT_INVALID(want)                                                   \
	do {                                                                   \
		CU_ASSERT_EQUAL(us_config_validate(&cfg, err, sizeof err), -1); \
		CU_ASSERT_EQUAL(errno, EINVAL);                                \
		CU_ASSERT(err_is(want));                                       \
		code_config(&cfg);                                             \
	} while (0)

static void test_validate_code_built(void)
{
	code_config(&cfg);
	CU_ASSERT_EQUAL(us_config_validate(&cfg, err, sizeof err), 0);

	us_config_init(&cfg);
	EXPECT_INVALID("<config>: no interfaces configured");
	cfg.source[0] = '\0';
	cfg.ifaces[0].line = 0;
	cfg.ifaces[0].device[0] = '\0';
	EXPECT_INVALID("<config>: interface \"eth0\": missing required key \"device\" "
		       "(backend tap needs it)");
	cfg.ifaces[0].device[0] = '\0';
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": missing required key \"device\"");
	cfg.ifaces[0].backend = US_BACKEND_LOOPBACK;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": \"device\" is not allowed for backend "
		       "loopback");
	strcpy(cfg.ifaces[0].output, "o");
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": \"output\" is only allowed");
	cfg.ifaces[0].output[0] = '\0';
	cfg.ifaces[0].backend = US_BACKEND_TAP;
	strcpy(cfg.ifaces[0].device, "tap0");
	cfg.ifaces[0].impair.jitter_ms = 1;
	cfg.ifaces[0].impair_out.loss = 0.5;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": impair: give either");
	cfg.ifaces[0].impair_out.loss = 1.5;
	cfg.ifaces[0].impair.jitter_ms = 0;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": impair.out.loss must be 0..1");
	cfg.ifaces[0].impair_out.loss = 0;
	cfg.ifaces[0].backend = US_BACKEND_PAIR;
	cfg.ifaces[0].impair.loss = NAN;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": impair.loss must be 0..1");
	cfg.ifaces[0].backend = US_BACKEND_PAIR;
	cfg.ifaces[0].impair.delay_ms = 60001;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": impair.delay_ms");
	cfg.ifaces[0].backend = (enum us_backend_kind)9;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": unknown backend 9");
	cfg.ifaces[0].mtu = 575;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": mtu 575 is out of range 576..9000");
	cfg.ifaces[0].queues = 17;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": queues 17 is out of range 1..16");
	cfg.ifaces[0].backend = US_BACKEND_PCAP;
	cfg.ifaces[0].queues = 2;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": \"queues\" above 1 is only allowed");
	cfg.ifaces[0].mac_set = true;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": macaddress 00:00:00:00:00:00 is all zero");
	cfg.ifaces[0].addrs[0].addr.s_addr = ip("127.0.0.1");
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": address 127.0.0.1/24 is a loopback");
	cfg.ifaces[0].addrs[0].prefix = 33;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": prefix length 33 is out of range");
	cfg.ifaces[0].naddrs = US_MAX_ADDRS + 1;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": 9 addresses (at most 8)");
	cfg.ifaces[0].addrs[1] = cfg.ifaces[0].addrs[0];
	cfg.ifaces[0].naddrs = 2;
	EXPECT_INVALID("x.yaml:3:5: interface \"eth0\": duplicate address 10.0.0.2/24 "
		       "(also on \"eth0\")");
	cfg.ifaces[1] = cfg.ifaces[0];
	cfg.ifaces[1].line = 4;
	cfg.nifaces = 2;
	EXPECT_INVALID("x.yaml:4:5: interface \"eth0\" is configured twice");
	strcpy(cfg.ifaces[0].name, "eth:0");
	EXPECT_INVALID("x.yaml:3:5: interface name \"eth:0\" may only contain");
	memset(cfg.ifaces[0].name, 'a', sizeof cfg.ifaces[0].name);
	EXPECT_INVALID("x.yaml:3:5: interface #0: name is not NUL-terminated");
	cfg.nifaces = US_MAX_IFACES + 1;
	EXPECT_INVALID("x.yaml: 9 interfaces configured (at most 8)");
	cfg.log_level = (enum us_log_level)5;
	EXPECT_INVALID("x.yaml: stack: unknown log_level 5");

	cfg.routes[0].to.addr.s_addr = ip("10.1.0.1");
	cfg.routes[0].to.prefix = 16;
	EXPECT_INVALID("x.yaml:9:3: route to 10.1.0.1/16: the destination has host bits set");
	cfg.routes[0].via.s_addr = ip("10.9.0.1");
	EXPECT_INVALID("x.yaml:9:3: route to default: gateway 10.9.0.1 is not inside any "
		       "interface's subnet");
	cfg.routes[0].via.s_addr = ip("255.255.255.255");
	EXPECT_INVALID("x.yaml:9:3: route to default: gateway 255.255.255.255 is the broadcast");
	strcpy(cfg.routes[0].iface, "eth1");
	EXPECT_INVALID("x.yaml:9:3: route to default: interface \"eth1\" is not configured");
	cfg.routes[0].via.s_addr = 0;
	EXPECT_INVALID("x.yaml:9:3: route to default: needs \"via\" or \"interface\"");
	cfg.nroutes = -1;
	EXPECT_INVALID("x.yaml: -1 routes configured (at most 64)");

	cfg.arp_timeout_s = 0;
	EXPECT_INVALID("x.yaml: arp: timeout_s 0 is out of range 1..86400");
	cfg.arp_static[0].addr.s_addr = ip("10.0.0.9");
	cfg.narp_static = 1;
	EXPECT_INVALID("x.yaml: arp: static entry for 10.0.0.9: mac 00:00:00:00:00:00 is all zero");
	cfg.arp_static[0].addr.s_addr = ip("10.0.0.9");
	cfg.arp_static[0].mac[0] = 2;
	cfg.arp_static[1] = cfg.arp_static[0];
	cfg.narp_static = 2;
	EXPECT_INVALID("x.yaml: arp: duplicate static entry for 10.0.0.9");

	CU_ASSERT_EQUAL(us_config_validate(NULL, err, sizeof err), -1);
}

/* The new sections of a code-built config; code_config() restores after each error. */
static void test_validate_code_built_sections(void)
{
	/* nameservers */
	code_config(&cfg);
	cfg.nameservers[0].s_addr = ip("10.0.0.53");
	cfg.nnameservers = 1;
	strcpy(cfg.search[0], "example.org");
	cfg.nsearch = 1;
	CU_ASSERT_EQUAL(us_config_validate(&cfg, err, sizeof err), 0);
	cfg.nnameservers = US_MAX_NAMESERVERS + 1;
	EXPECT_INVALID("x.yaml: nameservers: 4 addresses (at most 3)");
	cfg.nnameservers = 1;
	EXPECT_INVALID("x.yaml: nameservers: address 0.0.0.0 is the unspecified address");
	cfg.nameservers[0].s_addr = cfg.nameservers[1].s_addr = ip("10.0.0.53");
	cfg.nnameservers = 2;
	EXPECT_INVALID("x.yaml: nameservers: duplicate address 10.0.0.53");
	cfg.nameservers[0].s_addr = ip("10.0.0.53");
	cfg.nnameservers = 1;
	cfg.nsearch = US_MAX_SEARCH + 1;
	EXPECT_INVALID("x.yaml: nameservers: 7 search domains (at most 6)");
	cfg.nameservers[0].s_addr = ip("10.0.0.53");
	cfg.nnameservers = 1;
	strcpy(cfg.search[0], "a..b");
	cfg.nsearch = 1;
	EXPECT_INVALID("x.yaml: nameservers: search domain \"a..b\" has an empty label");
	cfg.nameservers[0].s_addr = ip("10.0.0.53");
	cfg.nnameservers = 1;
	strcpy(cfg.search[0], "Example.org");
	strcpy(cfg.search[1], "example.ORG");
	cfg.nsearch = 2;
	EXPECT_INVALID("x.yaml: nameservers: duplicate search domain \"example.ORG\"");
	cfg.nameservers[0].s_addr = ip("10.0.0.53");
	cfg.nnameservers = 1;
	memset(cfg.search[0], 'a', sizeof cfg.search[0]);
	cfg.nsearch = 1;
	EXPECT_INVALID("x.yaml: nameservers: search domain #0 is not NUL-terminated");
	cfg.dns_timeout_ms = 0;
	EXPECT_INVALID("x.yaml: nameservers: timeout_ms 0 is out of range 1..60000");
	cfg.dns_attempts = 11;
	EXPECT_INVALID("x.yaml: nameservers: attempts 11 is out of range 1..10");
	/* The YAML section needs addresses: nothing else of it may be set without them. */
	strcpy(cfg.search[0], "example.org");
	cfg.nsearch = 1;
	EXPECT_INVALID("x.yaml: nameservers: search, timeout_ms or attempts set without any "
		       "address");
	cfg.dns_timeout_ms = 5000;
	EXPECT_INVALID("x.yaml: nameservers: search, timeout_ms or attempts set without any "
		       "address");

	/* hosts */
	strcpy(cfg.hosts[0].name, "h");
	cfg.hosts[0].addr.s_addr = ip("10.0.0.9");
	cfg.nhosts = 1;
	CU_ASSERT_EQUAL(us_config_validate(&cfg, err, sizeof err), 0);
	cfg.nhosts = US_MAX_HOSTS + 1;
	EXPECT_INVALID("x.yaml: hosts: 65 entries (at most 64)");
	strcpy(cfg.hosts[0].name, "bad_name");
	cfg.hosts[0].addr.s_addr = ip("10.0.0.9");
	cfg.nhosts = 1;
	EXPECT_INVALID("x.yaml: hosts: \"bad_name\" may only contain letters, digits, '-' and '.'");
	strcpy(cfg.hosts[0].name, "h");
	cfg.hosts[0].addr.s_addr = ip("255.255.255.255");
	cfg.nhosts = 1;
	EXPECT_INVALID("x.yaml: host \"h\": 255.255.255.255 is the broadcast address");
	strcpy(cfg.hosts[0].name, "files.test");
	strcpy(cfg.hosts[1].name, "FILES.test");
	cfg.hosts[0].addr.s_addr = cfg.hosts[1].addr.s_addr = ip("10.0.0.9");
	cfg.nhosts = 2;
	EXPECT_INVALID("x.yaml: hosts: duplicate name \"FILES.test\"");
	memset(cfg.hosts[0].name, 'a', sizeof cfg.hosts[0].name);
	cfg.nhosts = 1;
	EXPECT_INVALID("x.yaml: hosts: name #0 is not NUL-terminated");

	/* tcp */
	cfg.tcp.mss = 87;
	EXPECT_INVALID("x.yaml: tcp: mss 87 is out of range 88..65495");
	cfg.tcp.sndbuf = 64 * 1024 * 1024 + 1;
	EXPECT_INVALID("x.yaml: tcp: sndbuf 67108865 is out of range 4096..67108864");
	cfg.tcp.rcvbuf = 0;
	EXPECT_INVALID("x.yaml: tcp: rcvbuf 0 is out of range 4096..67108864");
	cfg.tcp.delayed_ack_ms = 501;
	EXPECT_INVALID("x.yaml: tcp: delayed_ack_ms 501 is out of range 0..500");
	cfg.tcp.rto_min_ms = 0;
	EXPECT_INVALID("x.yaml: tcp: rto_min_ms 0 is out of range 1..60000");
	cfg.tcp.rto_initial_ms = 60001;
	EXPECT_INVALID("x.yaml: tcp: rto_initial_ms 60001 is out of range 1..60000");
	cfg.tcp.retries = 256;
	EXPECT_INVALID("x.yaml: tcp: retries 256 is out of range 1..255");
	cfg.tcp.syn_retries = 0;
	EXPECT_INVALID("x.yaml: tcp: syn_retries 0 is out of range 1..255");
	cfg.tcp.time_wait_s = 601;
	EXPECT_INVALID("x.yaml: tcp: time_wait_s 601 is out of range 0..600");
	cfg.tcp.rto_initial_ms = 100;
	EXPECT_INVALID("x.yaml: tcp: rto_initial_ms 100 is less than rto_min_ms 200");
	CU_ASSERT_STRING_EQUAL(err, "x.yaml: tcp: rto_initial_ms 100 is less than rto_min_ms 200");
	strcpy(cfg.tcp.congestion, "vegas");
	EXPECT_INVALID("x.yaml: tcp: unknown congestion \"vegas\"");
	memset(cfg.tcp.congestion, 'n', sizeof cfg.tcp.congestion);
	EXPECT_INVALID("x.yaml: tcp: congestion is not NUL-terminated");

	/* services: one http service at 7:3 to start from */
#define HTTP_SERVICE()                                   \
	do {                                             \
		cfg.services[0].type = US_SVC_HTTP;      \
		cfg.services[0].port = 80;               \
		strcpy(cfg.services[0].root, "/srv");    \
		cfg.services[0].line = 7;                \
		cfg.services[0].column = 3;              \
		cfg.nservices = 1;                       \
	} while (0)
	HTTP_SERVICE();
	CU_ASSERT_EQUAL(us_config_validate(&cfg, err, sizeof err), 0);
	cfg.nservices = US_MAX_SERVICES + 1;
	EXPECT_INVALID("x.yaml: 17 services configured (at most 16)");
	cfg.nservices = -1;
	EXPECT_INVALID("x.yaml: -1 services configured (at most 16)");
	HTTP_SERVICE();
	cfg.services[0].type = (enum us_service_type)4;
	EXPECT_INVALID("x.yaml:7:3: service #0: unknown type 4");
	HTTP_SERVICE();
	cfg.services[0].proto = 0;
	EXPECT_INVALID("x.yaml:7:3: service #0: unknown proto 0");
	HTTP_SERVICE();
	cfg.services[0].port = 0;
	EXPECT_INVALID("x.yaml:7:3: service #0: port 0 is out of range 1..65535");
	HTTP_SERVICE();
	memset(cfg.services[0].root, 'r', sizeof cfg.services[0].root);
	EXPECT_INVALID("x.yaml:7:3: service #0: root is not NUL-terminated");
	HTTP_SERVICE();
	cfg.services[0].root[0] = '\0';
	cfg.services[0].line = 0;
	EXPECT_INVALID("x.yaml: service http 80/tcp: missing required key \"root\" (type http "
		       "needs it)");
	HTTP_SERVICE();
	cfg.services[0].type = US_SVC_ECHO;
	EXPECT_INVALID("x.yaml:7:3: service echo 80/tcp: \"root\" is only allowed for type http");
	HTTP_SERVICE();
	cfg.services[0].proto = IPPROTO_UDP;
	EXPECT_INVALID("x.yaml:7:3: service http 80/udp: type http needs proto tcp");
	HTTP_SERVICE();
	cfg.services[1].type = US_SVC_DISCARD;
	cfg.services[1].port = 80;
	cfg.services[1].line = 9;
	cfg.services[1].column = 3;
	cfg.nservices = 2;
	EXPECT_INVALID("x.yaml:9:3: service discard 80/tcp: port 80/tcp is already used by "
		       "service http (first at 7:3)");
	CU_ASSERT_STRING_EQUAL(err, "x.yaml:9:3: service discard 80/tcp: port 80/tcp is already "
				    "used by service http (first at 7:3)");
	/* Without positions: no "first at". */
	HTTP_SERVICE();
	cfg.services[0].line = 0;
	cfg.services[1].type = US_SVC_ECHO;
	cfg.services[1].port = 80;
	cfg.nservices = 2;
	EXPECT_INVALID("x.yaml: service echo 80/tcp: port 80/tcp is already used by service http");
	CU_ASSERT_STRING_EQUAL(err, "x.yaml: service echo 80/tcp: port 80/tcp is already used by "
				    "service http");
	/* The same port over udp is another service. */
	HTTP_SERVICE();
	cfg.services[1].type = US_SVC_ECHO;
	cfg.services[1].proto = IPPROTO_UDP;
	cfg.services[1].port = 80;
	cfg.nservices = 2;
	CU_ASSERT_EQUAL(us_config_validate(&cfg, err, sizeof err), 0);
#undef HTTP_SERVICE
}

/* ---- hostile input ------------------------------------------------------ */

static void test_hostile_nesting(void)
{
	size_t n = 100000;
	char *y = malloc(2 * n + 16);
	memset(y, '[', n);
	memset(y + n, ']', n);
	y[2 * n] = '\0';
	/* Sixteen containers are allowed; the seventeenth "[" is at column 17. */
	EXPECT_ERR(y, "t.yaml:1:17: YAML nested deeper than 16 levels");
	/* The same in block style: "a:" at depth k (0-based) is on line k + 1, column k + 1. */
	size_t o = 0;
	for (int k = 0; k < 40; k++)
		o += (size_t)sprintf(y + o, "%*sa:\n", k, "");
	EXPECT_ERR(y, "t.yaml:17:17: YAML nested deeper than 16 levels");
	/* An unterminated deep nest stops at the depth limit too, before any syntax error. */
	memset(y, '{', n);
	y[n] = '\0';
	EXPECT_ERR(y, "t.yaml:1:17: YAML nested deeper than 16 levels");
	free(y);
}

static void test_hostile_sizes(void)
{
	size_t n = 600000;
	char *y = malloc(2 * 1024 * 1024);
	if (!y) {
		CU_FAIL("out of memory");
		return;
	}

	/* A huge scalar where a short one belongs: "    device: " is 12 characters. */
	size_t o = (size_t)sprintf(y, "interfaces:\n  e:\n    backend: tap\n    device: ");
	memset(y + o, 'x', n);
	strcpy(y + o + n, "\n");
	EXPECT_ERR(y, "t.yaml:4:13: device: longer than 255 bytes");

	/* A long unknown key is quoted in part only. */
	memset(y, 'k', 1000);
	strcpy(y + 1000, ": 1\n");
	EXPECT_ERR(y, "t.yaml:1:1: top level: unknown key \"kkkkkkkkkk");
	CU_ASSERT(strlen(err) < 300);
	/*
	 * A simple key may not be longer than 1024 characters: libyaml stops
	 * treating the text as a key, and then finds the ":" out of place.
	 */
	memset(y, 'k', n);
	strcpy(y + n, ": 1\n");
	EXPECT_ERR(y, "t.yaml:1:600001: YAML syntax error: mapping values are not allowed in this "
		      "context");

	/* Too many nodes: node k (1-based) of "[1,1,...]" is the k-1th "1", at column 2k - 2. */
	y[0] = '[';
	o = 1;
	for (int k = 0; k < 150000; k++) {
		y[o++] = '1';
		y[o++] = ',';
	}
	strcpy(y + o, "1]\n");
	EXPECT_ERR(y, "t.yaml:1:200000: more than 100000 YAML nodes");

	/* More than 1 MiB is refused before parsing. */
	memset(y, '#', 1024 * 1024 + 1);
	CU_ASSERT_EQUAL(us_config_load_string("t.yaml", y, 1024 * 1024 + 1, &cfg, err, sizeof err),
			-1);
	CU_ASSERT(err_is("t.yaml: larger than 1048576 bytes"));
	CU_ASSERT_EQUAL(errno, EFBIG);
	free(y);
}

/* A small deterministic generator (xorshift64) for the junk tests. */
static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* Whatever the input, a load either succeeds or gives a positioned "t.yaml:" message. */
static void check_any(const char *y, size_t len)
{
	int rc = us_config_load_string("t.yaml", y, len, &cfg, err, sizeof err);
	if (rc == 0) {
		round_trip(&cfg);
	} else {
		CU_ASSERT_EQUAL(rc, -1);
		CU_ASSERT_EQUAL(strncmp(err, "t.yaml:", 7), 0);
		CU_ASSERT(strlen(err) > 8);
	}
}

static void test_hostile_junk(void)
{
	char buf[4096];
	_Static_assert(sizeof FULL <= sizeof buf, "FULL does not fit the junk buffer");

	rng_state = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 300; i++) {
		size_t len = rnd() % sizeof buf;
		for (size_t j = 0; j < len; j++)
			buf[j] = (char)rnd();
		check_any(buf, len);
	}
	/* Junk made of YAML's own punctuation gets further into the parser. */
	static const char alphabet[] = "[]{}:,-?&*!|>'\"#%@` \t\n\r\\.0a";
	for (int i = 0; i < 300; i++) {
		size_t len = rnd() % 200;
		for (size_t j = 0; j < len; j++)
			buf[j] = alphabet[rnd() % (sizeof alphabet - 1)];
		check_any(buf, len);
	}
	/* A few bytes changed in a valid file reach every part of the schema walker. */
	for (int i = 0; i < 2000; i++) {
		size_t len = sizeof FULL - 1;
		memcpy(buf, FULL, len);
		int changes = 1 + (int)(rnd() % 3);
		for (int c = 0; c < changes; c++) {
			size_t at = rnd() % len;
			switch (rnd() % 3) {
			case 0:
				buf[at] = alphabet[rnd() % (sizeof alphabet - 1)];
				break;
			case 1:
				buf[at] = (char)('0' + rnd() % 10);
				break;
			default:
				memmove(buf + at, buf + at + 1, len - at - 1);  /* delete one byte */
				len--;
				break;
			}
		}
		check_any(buf, len);
	}
}

US_SUITE(config, NULL, NULL,
	 US_TEST(test_full_config),
	 US_TEST(test_defaults),
	 US_TEST(test_init_and_names),
	 US_TEST(test_dump_round_trip),
	 US_TEST(test_dump_code_built),
	 US_TEST(test_load_file),
	 US_TEST(test_sample_files),
	 US_TEST(test_err_empty),
	 US_TEST(test_err_syntax),
	 US_TEST(test_err_documents_anchors_tags),
	 US_TEST(test_err_root_type),
	 US_TEST(test_err_unknown_key),
	 US_TEST(test_err_duplicate_key),
	 US_TEST(test_err_wrong_type),
	 US_TEST(test_err_strings),
	 US_TEST(test_err_range),
	 US_TEST(test_err_enum),
	 US_TEST(test_err_addresses),
	 US_TEST(test_err_hints),
	 US_TEST(test_err_mac),
	 US_TEST(test_err_missing_required),
	 US_TEST(test_err_backend_keys),
	 US_TEST(test_queues),
	 US_TEST(test_port_range),
	 US_TEST(test_err_routes),
	 US_TEST(test_err_too_many),
	 US_TEST(test_err_duplicate_address),
	 US_TEST(test_err_ifname),
	 US_TEST(test_err_nameservers),
	 US_TEST(test_err_hosts),
	 US_TEST(test_err_tcp),
	 US_TEST(test_err_services),
	 US_TEST(test_validate_code_built),
	 US_TEST(test_validate_code_built_sections),
	 US_TEST(test_hostile_nesting),
	 US_TEST(test_hostile_sizes),
	 US_TEST(test_hostile_junk));
