/*
 * config_dump.c — a struct us_config as YAML (ustackd --check-config).
 *
 * The output is the normalized configuration: every key that has a default
 * is written with its value (stack.log_level, each interface's mtu,
 * arp.timeout_s, route metrics, impair on pair interfaces, the whole tcp
 * section, nameservers' timeout_ms and attempts, each service's proto),
 * optional keys only when set (seed, device, output, macaddress, capture,
 * via, interface, root), the nameservers, hosts and services sections only
 * when they have entries, addresses in canonical form. us_config_load_string() reads
 * it back into an equal struct (tests/unit/test_config.c checks this):
 * probabilities are printed with enough digits to come back bit for bit.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* Text that reads back as the same string without quotes. */
static bool plain_safe(const char *s)
{
	static const char *const nulls[] = { "null", "Null", "NULL" };
	if (!*s || *s == '-' || *s == '.')
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-' || *c == '/'))
			return false;
	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp(s, nulls[i]) == 0)
			return false;
	return true;
}

/* A string as a YAML scalar: plain when safe, else double-quoted with escapes. */
static void put_str(FILE *out, const char *s, size_t size)
{
	size_t n = strnlen(s, size);
	char tmp[US_PATH_MAX];
	if (n < sizeof tmp) {
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (plain_safe(tmp)) {
			fputs(tmp, out);
			return;
		}
	}
	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);  /* UTF-8 goes through as is */
	}
	fputc('"', out);
}

/* The shortest of %.15g / %.17g that reads back as exactly x. */
static void put_double(FILE *out, double x)
{
	char buf[40];
	snprintf(buf, sizeof buf, "%.15g", x);
	if (strtod(buf, NULL) != x)
		snprintf(buf, sizeof buf, "%.17g", x);
	fputs(buf, out);
}

/* The impairment keys of one record, each line prefixed with ind. */
static void dump_impair(const struct us_impair *im, const char *ind, FILE *out)
{
	fprintf(out, "%sloss: ", ind);
	put_double(out, im->loss);
	fprintf(out, "\n%sduplicate: ", ind);
	put_double(out, im->duplicate);
	fprintf(out, "\n%sreorder: ", ind);
	put_double(out, im->reorder);
	fprintf(out, "\n%scorrupt: ", ind);
	put_double(out, im->corrupt);
	fprintf(out, "\n%sdelay_ms: %u\n%sjitter_ms: %u\n%srate_mbit: %u\n", ind,
		(unsigned)im->delay_ms, ind, (unsigned)im->jitter_ms, ind, (unsigned)im->rate_mbit);
}

static void dump_iface(const struct us_iface_config *ifc, FILE *out)
{
	char b[CFG_CIDR_STRLEN];

	fputs("  ", out);
	put_str(out, ifc->name, sizeof ifc->name);
	fprintf(out, ":\n    backend: %s\n", us_backend_name(ifc->backend));
	if (ifc->device[0]) {
		fputs("    device: ", out);
		put_str(out, ifc->device, sizeof ifc->device);
		fputc('\n', out);
	}
	if (ifc->output[0]) {
		fputs("    output: ", out);
		put_str(out, ifc->output, sizeof ifc->output);
		fputc('\n', out);
	}
	if (ifc->mac_set) {
		char m[CFG_MAC_STRLEN];
		cfg_format_mac(ifc->mac, m, sizeof m);
		fprintf(out, "    macaddress: %s\n", m);
	}
	fprintf(out, "    mtu: %u\n", (unsigned)ifc->mtu);
	fputs("    addresses: [", out);
	for (int i = 0; i < ifc->naddrs && i < US_MAX_ADDRS; i++) {
		cfg_format_cidr(&ifc->addrs[i], b, sizeof b);
		fprintf(out, "%s%s", i ? ", " : "", b);
	}
	fputs("]\n", out);
	if (ifc->capture[0]) {
		fputs("    capture: ", out);
		put_str(out, ifc->capture, sizeof ifc->capture);
		fputc('\n', out);
	}
	if (ifc->pcap_buffer_kb)
		fprintf(out, "    pcap_buffer_kb: %u\n", (unsigned)ifc->pcap_buffer_kb);
	if (ifc->forwarding_set)
		fprintf(out, "    forwarding: %s\n", ifc->forwarding ? "true" : "false");
	if (ifc->dhcp4)
		fputs("    dhcp4: true\n", out);
	if (ifc->queues > 1)
		fprintf(out, "    queues: %u\n", (unsigned)ifc->queues);
	bool in = us_impair_is_set(&ifc->impair_in), outd = us_impair_is_set(&ifc->impair_out);
	bool flat = ifc->backend == US_BACKEND_PAIR || us_impair_is_set(&ifc->impair);
	if (flat || in || outd)
		fputs("    impair:\n", out);
	if (flat)
		dump_impair(&ifc->impair, "      ", out);
	if (in) {
		fputs("      in:\n", out);
		dump_impair(&ifc->impair_in, "        ", out);
	}
	if (outd) {
		fputs("      out:\n", out);
		dump_impair(&ifc->impair_out, "        ", out);
	}
}

static void dump_route(const struct us_route_config *r, FILE *out)
{
	char b[CFG_CIDR_STRLEN];

	if (r->to.prefix == 0 && r->to.addr.s_addr == 0)
		snprintf(b, sizeof b, "default");
	else
		cfg_format_cidr(&r->to, b, sizeof b);
	fprintf(out, "  - to: %s\n", b);
	if (r->src.s_addr) {
		cfg_format_ipv4(r->src, b, sizeof b);
		fprintf(out, "    src: %s\n", b);
	}
	if (r->via.s_addr) {
		cfg_format_ipv4(r->via, b, sizeof b);
		fprintf(out, "    via: %s\n", b);
	}
	fprintf(out, "    metric: %" PRIu32 "\n", r->metric);
	if (r->iface[0]) {
		fputs("    interface: ", out);
		put_str(out, r->iface, sizeof r->iface);
		fputc('\n', out);
	}
}

/* Only with addresses: the section requires them (us_config_validate insists). */
static void dump_nameservers(const struct us_config *cfg, FILE *out)
{
	int n = cfg->nnameservers < US_MAX_NAMESERVERS ? cfg->nnameservers : US_MAX_NAMESERVERS;
	if (n <= 0)
		return;
	fputs("nameservers:\n  addresses: [", out);
	for (int i = 0; i < n; i++) {
		char a[INET_ADDRSTRLEN];
		cfg_format_ipv4(cfg->nameservers[i], a, sizeof a);
		fprintf(out, "%s%s", i ? ", " : "", a);
	}
	fputs("]\n  search: [", out);
	n = cfg->nsearch < US_MAX_SEARCH ? cfg->nsearch : US_MAX_SEARCH;
	for (int i = 0; i < n; i++) {
		fputs(i ? ", " : "", out);
		put_str(out, cfg->search[i], sizeof cfg->search[i]);
	}
	fprintf(out, "]\n  timeout_ms: %" PRIu32 "\n  attempts: %" PRIu32 "\n", cfg->dns_timeout_ms,
		cfg->dns_attempts);
}

static const char *bool_str(bool b)
{
	return b ? "true" : "false";
}

static void dump_tcp(const struct us_tcp_config *t, FILE *out)
{
	fprintf(out,
		"tcp:\n"
		"  mss: %" PRIu32 "\n"
		"  sndbuf: %" PRIu32 "\n"
		"  rcvbuf: %" PRIu32 "\n"
		"  nodelay: %s\n"
		"  delayed_ack_ms: %" PRIu32 "\n"
		"  rto_min_ms: %" PRIu32 "\n"
		"  rto_initial_ms: %" PRIu32 "\n"
		"  retries: %" PRIu32 "\n"
		"  syn_retries: %" PRIu32 "\n"
		"  time_wait_s: %" PRIu32 "\n"
		"  congestion: ",
		t->mss, t->sndbuf, t->rcvbuf, bool_str(t->nodelay), t->delayed_ack_ms, t->rto_min_ms,
		t->rto_initial_ms, t->retries, t->syn_retries, t->time_wait_s);
	put_str(out, t->congestion, sizeof t->congestion);
	fprintf(out, "\n  window_scaling: %s\n  timestamps: %s\n  sack: %s\n  rack: %s\n"
		"  syncookies: %s\n",
		bool_str(t->window_scaling), bool_str(t->timestamps), bool_str(t->sack),
		bool_str(t->rack), bool_str(t->syncookies));
}

static void dump_service(const struct us_service_config *s, FILE *out)
{
	const char *type = (int)s->type >= 0 && s->type <= US_SVC_HTTP
				   ? cfg_service_type_names[s->type] : "unknown";
	fprintf(out, "  - type: %s\n    proto: %s\n    port: %u\n", type, cfg_proto_name(s->proto),
		(unsigned)s->port);
	if (s->root[0]) {
		fputs("    root: ", out);
		put_str(out, s->root, sizeof s->root);
		fputc('\n', out);
	}
}

void us_config_dump(const struct us_config *cfg, FILE *out)
{
	int n;

	fprintf(out, "stack:\n  log_level: %s\n", us_log_level_name(cfg->log_level));
	if (cfg->seed_set)
		fprintf(out, "  seed: %" PRIu64 "\n", cfg->seed);
	fprintf(out, "  busy_poll_us: %u\n", cfg->busy_poll_us);
	fprintf(out, "  drain_timeout_ms: %u\n", cfg->drain_timeout_ms);
	if (cfg->max_sockets && cfg->max_sockets != US_DEFAULT_MAX_SOCKETS)
		fprintf(out, "  max_sockets: %u\n", cfg->max_sockets);
	if (cfg->forwarding)
		fputs("  forwarding: true\n", out);
	if (!cfg->send_redirects)
		fputs("  send_redirects: false\n", out);
	if (cfg->port_lo)
		fprintf(out, "  ip_local_port_range: [%u, %u]\n", cfg->port_lo, cfg->port_hi);

	n = cfg->nifaces < US_MAX_IFACES ? cfg->nifaces : US_MAX_IFACES;
	fputs(n > 0 ? "interfaces:\n" : "interfaces: {}\n", out);
	for (int i = 0; i < n; i++)
		dump_iface(&cfg->ifaces[i], out);

	n = cfg->nroutes < US_MAX_ROUTES ? cfg->nroutes : US_MAX_ROUTES;
	fputs(n > 0 ? "routes:\n" : "routes: []\n", out);
	for (int i = 0; i < n; i++)
		dump_route(&cfg->routes[i], out);

	fprintf(out, "arp:\n  timeout_s: %" PRIu32 "\n", cfg->arp_timeout_s);
	n = cfg->narp_static < US_MAX_STATIC_ARP ? cfg->narp_static : US_MAX_STATIC_ARP;
	fputs(n > 0 ? "  static:\n" : "  static: []\n", out);
	for (int i = 0; i < n; i++) {
		char a[CFG_CIDR_STRLEN], m[CFG_MAC_STRLEN];
		cfg_format_ipv4(cfg->arp_static[i].addr, a, sizeof a);
		cfg_format_mac(cfg->arp_static[i].mac, m, sizeof m);
		fprintf(out, "    - address: %s\n      mac: %s\n", a, m);
	}

	dump_nameservers(cfg, out);
	n = cfg->nhosts < US_MAX_HOSTS ? cfg->nhosts : US_MAX_HOSTS;
	if (n > 0)
		fputs("hosts:\n", out);
	for (int i = 0; i < n; i++) {
		char a[INET_ADDRSTRLEN];
		cfg_format_ipv4(cfg->hosts[i].addr, a, sizeof a);
		fputs("  ", out);
		put_str(out, cfg->hosts[i].name, sizeof cfg->hosts[i].name);
		fprintf(out, ": %s\n", a);
	}
	dump_tcp(&cfg->tcp, out);
	n = cfg->nservices < US_MAX_SERVICES ? cfg->nservices : US_MAX_SERVICES;
	if (n > 0)
		fputs("services:\n", out);
	for (int i = 0; i < n; i++)
		dump_service(&cfg->services[i], out);
}
