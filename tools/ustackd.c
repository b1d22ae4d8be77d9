/*
 * ustackd — bring a host described by YAML (or the quick flags) up and
 * keep it up: it answers ARP and ping on every interface, and runs the
 * services of its config (echo, discard, chargen over TCP and UDP, and an
 * HTTP file service: tools/common/http_service.c), until
 * SIGINT or SIGTERM. SIGUSR2 lists the sockets (as ss -tuan) on stderr.
 * SIGUSR1 prints the counters to stderr; they are printed at
 * exit too. --check-config validates a file and prints it normalized.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/common/cli.h"
#include "tools/common/services.h"

enum { OPT_CHECK = CLI_OPT__TOOL_BASE, OPT_PIDFILE };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ustackd -C FILE | ustackd --check-config FILE | ustackd --tap NAME --addr A/P ...\n"
		CLI_USAGE_COMMON
		"  --check-config FILE  validate FILE, print it normalized, exit 0 (or 1 on error)\n"
		"  --pidfile FILE       write the process id to FILE once the stack is up\n"
		"  -h, --help           this help\n"
		"Signals: SIGINT/SIGTERM stop, SIGUSR1 prints counters (stack and per interface),\n"
		"SIGUSR2 lists sockets as ss -tuan does, both to stderr.\n");
}

int main(int argc, char **argv)
{
	struct us_cli cli;
	us_cli_init(&cli, "ustackd");
	static const struct option longopts[] = {
		CLI_LONG_OPTIONS,
		{ "check-config", required_argument, NULL, OPT_CHECK },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *check = NULL, *pidfile = NULL;
	int opt;
	while ((opt = getopt_long(argc, argv, CLI_SHORT_OPTIONS "h", longopts, NULL)) != -1) {
		int r = us_cli_option(&cli, opt, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case OPT_CHECK:
			check = optarg;
			break;
		case OPT_PIDFILE:
			pidfile = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (check) {
		char err[512];
		struct us_config cfg;
		if (us_config_load(check, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		us_config_dump(&cfg, stdout);
		return 0;
	}
	if (us_cli_finish(&cli) < 0)
		return 2;

	us_cli_block_signals();
	us_stack *st = us_cli_start(&cli);
	if (!st)
		return 1;
	struct us_services *sv = us_services_start(st, &cli.cfg);
	if (!sv) {
		us_stack_free(st);
		return 1;
	}
	fprintf(stderr, "ustackd: up, %d interface%s\n", us_stack_nifaces(st),
		us_stack_nifaces(st) == 1 ? "" : "s");
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
			fprintf(stderr, "ustackd: %s: %s\n", pidfile, strerror(errno));
			us_stack_free(st);
			return 1;
		}
	}
	for (;;) {
		int sig = us_cli_wait_signal(1000);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		if (sig == SIGUSR1)
			us_stack_stats_print(st, stderr);
		if (sig == SIGUSR2)
			us_stack_sockets_print(st, stderr);
	}
	fprintf(stderr, "ustackd: stopping\n");
	us_services_stop(sv);
	us_stack_stop(st);
	us_stack_stats_print(st, stderr);
	us_stack_free(st);
	if (pidfile)
		unlink(pidfile);
	return 0;
}
