/*
 * cli.c — option handling shared by the tools (see cli.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config_internal.h"
#include "tools/common/cli.h"

void us_cli_init(struct us_cli *c, const char *prog)
{
	memset(c, 0, sizeof *c);
	c->prog = prog;
	us_config_init(&c->cfg);
	cfg_iface_init(&c->cfg.ifaces[0]);
	snprintf(c->cfg.ifaces[0].name, sizeof c->cfg.ifaces[0].name, "eth0");
	c->cfg.ifaces[0].backend = US_BACKEND_TAP;
}

static int bad(struct us_cli *c, const char *opt, const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s: expected %s, got '%s'\n", c->prog, opt, what, arg);
	return -1;
}

int us_cli_option(struct us_cli *c, int opt, const char *arg)
{
	struct us_iface_config *ifc = &c->cfg.ifaces[0];
	uint64_t v;
	switch (opt) {
	case 'C':
		if (c->no_short_config)
			return 0;
		/* fall through */
	case CLI_OPT_STACK_CONFIG:
		c->config_path = arg;
		return 1;
	case 'v':
		c->verbose++;
		return 1;
	case CLI_OPT_TAP:
	case CLI_OPT_PCAP:
		if (strlen(arg) == 0 || strlen(arg) >= sizeof ifc->device)
			return bad(c, opt == CLI_OPT_TAP ? "--tap" : "--pcap", "an interface name", arg);
		ifc->backend = opt == CLI_OPT_TAP ? US_BACKEND_TAP : US_BACKEND_PCAP;
		snprintf(ifc->device, sizeof ifc->device, "%s", arg);
		break;
	case CLI_OPT_ADDR:
		if (ifc->naddrs == US_MAX_ADDRS) {
			fprintf(stderr, "%s: --addr: at most %d addresses\n", c->prog, US_MAX_ADDRS);
			return -1;
		}
		if (!cfg_parse_cidr(arg, &ifc->addrs[ifc->naddrs]))
			return bad(c, "--addr", "A.B.C.D/PREFIX", arg);
		ifc->naddrs++;
		break;
	case CLI_OPT_GW:
		if (!cfg_parse_ipv4(arg, &c->gw))
			return bad(c, "--gw", "A.B.C.D", arg);
		break;
	case CLI_OPT_MAC:
		if (!cfg_parse_mac(arg, ifc->mac))
			return bad(c, "--mac", "xx:xx:xx:xx:xx:xx", arg);
		ifc->mac_set = true;
		break;
	case CLI_OPT_MTU:
		if (!cfg_parse_u64(arg, &v) || v < US_MIN_MTU || v > US_MAX_MTU)
			return bad(c, "--mtu", "an integer 576..9000", arg);
		ifc->mtu = (uint32_t)v;
		break;
	case CLI_OPT_CAPTURE:
		if (strlen(arg) >= sizeof ifc->capture)
			return bad(c, "--capture", "a shorter path", arg);
		snprintf(ifc->capture, sizeof ifc->capture, "%s", arg);
		break;
	default:
		return 0;
	}
	c->quick = true;
	return 1;
}

int us_cli_finish(struct us_cli *c)
{
	char err[512];
	const char *flag = c->no_short_config ? "--stack-config" : "-C";
	if (c->config_path && c->quick) {
		fprintf(stderr, "%s: %s and the single-interface flags exclude each other\n",
			c->prog, flag);
		return -1;
	}
	/* The environment is the fallback: any flag on the command line wins. */
	const char *env = getenv(CLI_CONFIG_ENV);
	if (!c->config_path && !c->quick && env && env[0]) {
		c->config_path = env;
		c->config_from_env = true;
	}
	if (c->config_path) {
		if (us_config_load(c->config_path, &c->cfg, err, sizeof err) < 0) {
			fprintf(stderr, "%s%s%s\n", err, c->config_from_env ? " (from $" : "",
				c->config_from_env ? CLI_CONFIG_ENV ")" : "");
			return -1;
		}
		return 0;
	}
	struct us_iface_config *ifc = &c->cfg.ifaces[0];
	if (!ifc->device[0]) {
		fprintf(stderr, "%s: no interface: give %s FILE (or set %s), or --tap NAME / --pcap IFNAME\n",
			c->prog, flag, CLI_CONFIG_ENV);
		return -1;
	}
	c->cfg.nifaces = 1;
	if (c->gw.s_addr) {
		struct us_route_config *r = &c->cfg.routes[c->cfg.nroutes++];
		r->to.addr.s_addr = 0;
		r->to.prefix = 0;
		r->via = c->gw;
	}
	if (us_config_validate(&c->cfg, err, sizeof err) < 0) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return -1;
	}
	return 0;
}

/*
 * Interfaces with dhcp4: wait for their leases (at most CLI_DHCP_WAIT_MS)
 * and say on stderr what each brought, as dhclient does; without one the
 * tool goes on (a service still listens; a client meets ENETUNREACH).
 */
#define CLI_DHCP_WAIT_MS 30000

static void cli_dhcp_wait(const struct us_cli *c, us_stack *st)
{
	bool any = false;
	for (int i = 0; i < c->cfg.nifaces; i++)
		any |= c->cfg.ifaces[i].dhcp4;
	if (!any)
		return;
	if (us_stack_dhcp_wait(st, CLI_DHCP_WAIT_MS) < 0)
		fprintf(stderr, "%s: no DHCP lease within %d s: %s\n", c->prog,
			CLI_DHCP_WAIT_MS / 1000, strerror(errno));
	for (int i = 0; i < c->cfg.nifaces; i++) {
		struct us_dhcp_lease l;
		char a[16], r[16], s[16], d[3 * 17] = "";
		if (!c->cfg.ifaces[i].dhcp4 || us_stack_dhcp_lease(st, i, &l) < 0 || !l.addr.addr.s_addr)
			continue;
		for (int k = 0; k < l.ndns; k++) {
			char one[16];
			inet_ntop(AF_INET, &l.dns[k], one, sizeof one);
			snprintf(d + strlen(d), sizeof d - strlen(d), "%s%s", k ? "," : "", one);
		}
		fprintf(stderr, "%s: %s: DHCP lease %s/%u router %s dns %s server %s lease %us\n",
			c->prog, c->cfg.ifaces[i].name, inet_ntop(AF_INET, &l.addr.addr, a, sizeof a),
			(unsigned)l.addr.prefix, inet_ntop(AF_INET, &l.router, r, sizeof r),
			d[0] ? d : "none", inet_ntop(AF_INET, &l.server, s, sizeof s),
			(unsigned)l.lease_s);
	}
}

us_stack *us_cli_start(struct us_cli *c)
{
	char err[512];
	unsigned flags = c->verbose ? US_STACK_TRACE_FRAMES : 0;
	us_stack *st = us_stack_new(&c->cfg, flags, err, sizeof err);
	if (!st) {
		fprintf(stderr, "%s: %s\n", c->prog, err);
		return NULL;
	}
	if (us_stack_start(st) < 0) {
		fprintf(stderr, "%s: cannot start the stack: %s\n", c->prog, strerror(errno));
		us_stack_free(st);
		return NULL;
	}
	cli_dhcp_wait(c, st);
	return st;
}

static sigset_t tool_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGPIPE);
	return s;
}

void us_cli_block_signals(void)
{
	sigset_t s = tool_signals();
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

int us_cli_wait_signal(int ms)
{
	sigset_t s = tool_signals();
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	int sig = sigtimedwait(&s, NULL, &ts);
	return sig < 0 ? 0 : sig;
}
