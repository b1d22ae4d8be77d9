/*
 * cli.h — what every ustack tool shares: -C/--config or the quick
 * single-interface flags, -v, and bringing a threaded stack up.
 *
 * Quick flags: --tap NAME | --pcap IFNAME, --addr A.B.C.D/P (repeatable),
 * --gw A.B.C.D, --mac M, --mtu N, --capture FILE.pcap. With -C they are
 * an error (one source of truth).
 */
#ifndef US_TOOLS_CLI_H
#define US_TOOLS_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "ustack/ustack.h"

/* Option codes for the long-only quick flags (above any short option). */
enum {
	CLI_OPT_TAP = 0x100,
	CLI_OPT_PCAP,
	CLI_OPT_ADDR,
	CLI_OPT_GW,
	CLI_OPT_MAC,
	CLI_OPT_MTU,
	CLI_OPT_CAPTURE,
	CLI_OPT__TOOL_BASE = 0x140,   /* tools number their own long options from here */
};

#define CLI_LONG_OPTIONS                                              \
	{ "config", required_argument, NULL, 'C' },                   \
	{ "verbose", no_argument, NULL, 'v' },                        \
	{ "tap", required_argument, NULL, CLI_OPT_TAP },              \
	{ "pcap", required_argument, NULL, CLI_OPT_PCAP },            \
	{ "addr", required_argument, NULL, CLI_OPT_ADDR },            \
	{ "gw", required_argument, NULL, CLI_OPT_GW },                \
	{ "mac", required_argument, NULL, CLI_OPT_MAC },              \
	{ "mtu", required_argument, NULL, CLI_OPT_MTU },              \
	{ "capture", required_argument, NULL, CLI_OPT_CAPTURE }

#define CLI_SHORT_OPTIONS "C:v"

#define CLI_USAGE_COMMON                                                                \
	"  -C, --config FILE    YAML configuration (doc/CONFIG.md)\n"                    \
	"  --tap NAME           or: one interface on TAP device NAME\n"                  \
	"  --pcap IFNAME        or: one interface on IFNAME through libpcap\n"           \
	"  --addr A.B.C.D/P     its address (repeatable)\n"                              \
	"  --gw A.B.C.D         default gateway\n"                                       \
	"  --mac MAC            its MAC (default: random, locally administered)\n"       \
	"  --mtu N              its MTU (default 1500)\n"                                \
	"  --capture FILE       write every frame in and out to a pcap file\n"           \
	"  -v, --verbose        one line per frame in and out\n"

struct us_cli {
	const char *prog;
	const char *config_path;
	bool quick;                     /* a quick flag was given */
	int verbose;
	struct us_config cfg;           /* quick flags build into this */
	struct in_addr gw;
};

void us_cli_init(struct us_cli *c, const char *prog);
/*
 * Handle one getopt_long result. Returns 1 if it was a common option,
 * 0 if not (the tool handles it), -1 after printing an error.
 */
int us_cli_option(struct us_cli *c, int opt, const char *arg);
/* Load or assemble the configuration; -1 after printing an error. */
int us_cli_finish(struct us_cli *c);
/* Create and start a threaded stack from c->cfg; NULL after printing an error. */
us_stack *us_cli_start(struct us_cli *c);

/*
 * Block SIGINT, SIGTERM, SIGUSR1 and SIGPIPE in the calling thread (call
 * before any thread starts, so every stack thread inherits the mask); the
 * main thread then takes them with sigtimedwait.
 */
void us_cli_block_signals(void);
/* Wait up to ms for a blocked signal: its number, or 0 on timeout. */
int us_cli_wait_signal(int ms);

#endif
