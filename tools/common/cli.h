/*
 * cli.h — what every ustack tool shares: --stack-config FILE (short
 * form -C, except in uscurl where -C is curl's --continue-at) or the
 * quick single-interface flags, -v, and bringing a threaded stack up.
 *
 * Quick flags: --tap NAME | --pcap IFNAME, --addr A.B.C.D/P (repeatable),
 * --gw A.B.C.D, --mac M, --mtu N, --capture FILE.pcap. With
 * --stack-config they are an error (one source of truth).
 *
 * Where the configuration comes from, first match wins:
 *   1. --stack-config FILE (or -C FILE);
 *   2. the quick flags;
 *   3. the environment variable USTACK_CONFIG (a file name; empty = unset).
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
	CLI_OPT_STACK_CONFIG,
	CLI_OPT__TOOL_BASE = 0x140,   /* tools number their own long options from here */
};

/* The environment variable naming the configuration file when no flag does. */
#define CLI_CONFIG_ENV "USTACK_CONFIG"

#define CLI_LONG_OPTIONS                                              \
	{ "stack-config", required_argument, NULL, CLI_OPT_STACK_CONFIG }, \
	{ "verbose", no_argument, NULL, 'v' },                        \
	{ "tap", required_argument, NULL, CLI_OPT_TAP },              \
	{ "pcap", required_argument, NULL, CLI_OPT_PCAP },            \
	{ "addr", required_argument, NULL, CLI_OPT_ADDR },            \
	{ "gw", required_argument, NULL, CLI_OPT_GW },                \
	{ "mac", required_argument, NULL, CLI_OPT_MAC },              \
	{ "mtu", required_argument, NULL, CLI_OPT_MTU },              \
	{ "capture", required_argument, NULL, CLI_OPT_CAPTURE }

/* -C FILE is --stack-config FILE. */
#define CLI_SHORT_OPTIONS "C:v"
/* For a tool whose -C means something else (uscurl): set c->no_short_config too. */
#define CLI_SHORT_OPTIONS_NO_C "v"

#define CLI_USAGE_CONFIG_TEXT                                                           \
	"                       YAML configuration (doc/CONFIG.md); without it and\n"     \
	"                       without the flags below: the file $USTACK_CONFIG names\n"
#define CLI_USAGE_STACK_CONFIG "  -C, --stack-config FILE\n" CLI_USAGE_CONFIG_TEXT
#define CLI_USAGE_STACK_CONFIG_LONG "  --stack-config FILE\n" CLI_USAGE_CONFIG_TEXT
#define CLI_USAGE_QUICK                                                                 \
	"  --tap NAME           or: one interface on TAP device NAME\n"                  \
	"  --pcap IFNAME        or: one interface on IFNAME through libpcap\n"           \
	"  --addr A.B.C.D/P     its address (repeatable)\n"                              \
	"  --gw A.B.C.D         default gateway\n"                                       \
	"  --mac MAC            its MAC (default: random, locally administered)\n"       \
	"  --mtu N              its MTU (default 1500)\n"                                \
	"  --capture FILE       write every frame in and out to a pcap file\n"
#define CLI_USAGE_VERBOSE                                                               \
	"  -v, --verbose        one line per frame in and out\n"
#define CLI_USAGE_COMMON CLI_USAGE_STACK_CONFIG CLI_USAGE_QUICK CLI_USAGE_VERBOSE

struct us_cli {
	const char *prog;
	const char *config_path;
	bool no_short_config;           /* -C is not --stack-config (uscurl) */
	bool config_from_env;           /* config_path came from USTACK_CONFIG */
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
