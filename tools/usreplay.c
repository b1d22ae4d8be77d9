/*
 * usreplay — replay a pcap trace into a deterministic stack and compare
 * what it sends with an expected trace (the replay regression suite,
 * tests/replay/, runs on it).
 *
 * The stack is made from the host config with its first interface moved
 * onto an in-process pair wire whose other end usreplay holds; it runs in
 * deterministic mode (virtual clock from 1 s, seeded generator). Frames of
 * the input trace addressed to the stack (destination MAC the stack's or
 * broadcast, source MAC not the stack's) are injected at their recorded
 * offsets from the trace's first frame: virtual time 1 s + offset. Script
 * events (--script) run on the same clock. Between events the clock moves
 * with us_stack_advance(), so every timer fires at its exact virtual time.
 * After the last input and the last script event the run goes on for the
 * settle time, so that retransmissions and other timers show up.
 *
 * Everything the stack sends is recorded with its virtual send time; it is
 * written to --out and/or compared with --expect, frame by frame.
 *
 * At equal times: timers due then, then trace frames, then script events
 * in file order.
 *
 * Exit: 0 the output equals the expected trace (or no --expect) and the
 * script had no error; 1 a difference or a script error; 2 usage, config or
 * file errors.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link.h"
#include "ustack/pair.h"
#include "ustack/ustack.h"
#include "tools/common/replay_diff.h"
#include "tools/common/replay_pcap.h"
#include "tools/common/replay_script.h"

#define NS_PER_SEC        1000000000ull
#define VIRTUAL_START_NS  NS_PER_SEC             /* the virtual clock starts at 1 s */
#define DEFAULT_SETTLE_NS (5 * NS_PER_SEC)

enum { OPT_IN = 0x140, OPT_OUT, OPT_EXPECT, OPT_SCRIPT, OPT_SETTLE, OPT_CHECK_TIMES };

struct replay {
	const char *config_path, *in_path, *out_path, *expect_path, *script_path;
	uint64_t settle_ns;
	bool settle_given, check_times;
	int verbose;

	struct us_config cfg;
	us_stack *st;
	struct us_pair_end *peer;
	uint8_t mac[6];
	struct rp_trace in, out, expect;
	struct rp_script *script;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: usreplay -C HOST.yaml --in TRACE.pcap [--script APP.yaml] [--out ACTUAL.pcap]\n"
		"                [--expect EXPECTED.pcap] [--check-times] [--settle SECS] [-v]\n"
		"  -C, --stack-config FILE  host configuration (doc/CONFIG.md); needs stack.seed and the\n"
		"                       first interface's macaddress; its backend is replaced\n"
		"  --in FILE            pcap trace: frames to the stack are injected at their times\n"
		"  --script FILE        the application's socket operations (doc/man/usreplay.1)\n"
		"  --out FILE           write every frame the stack sends (pcap, virtual times)\n"
		"  --expect FILE        compare the stack's frames with this trace\n"
		"  --check-times        compare timestamps too (to the microsecond)\n"
		"  --settle SECS        run on this long after the last input or event (default 5)\n"
		"  -v, --verbose        a line per frame in and out, and per script event\n"
		"  -h, --help           this help\n"
		"exit: 0 equal, 1 a difference or script error, 2 usage or config error\n");
}

static int parse_secs(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= 86400))
		return -1;
	*out = (uint64_t)(v * 1e9 + 0.5);
	return 0;
}

static void fmt_t(char *b, size_t cap, uint64_t ns)
{
	snprintf(b, cap, "%4llu.%06llu", (unsigned long long)(ns / NS_PER_SEC),
		 (unsigned long long)(ns % NS_PER_SEC / 1000));
}

static void log_frame(const struct replay *r, const char *dir, uint64_t t, const uint8_t *f,
		      size_t len)
{
	if (!r->verbose)
		return;
	char ts[32], d[512];
	fmt_t(ts, sizeof ts, t);
	rp_describe(f, len, d, sizeof d);
	printf("%s %s %s\n", ts, dir, d);
}

/* Load the config and move its first interface onto our pair wire. */
static int setup_config(struct replay *r)
{
	char err[512];
	if (us_config_load(r->config_path, &r->cfg, err, sizeof err) < 0) {
		fprintf(stderr, "usreplay: %s\n", err);
		return -1;
	}
	if (!r->cfg.seed_set) {
		fprintf(stderr, "usreplay: %s: stack.seed is not set: a replay needs a fixed seed "
			"(ISNs, IP IDs and ports come from it), e.g.\n  stack:\n    seed: 1\n",
			r->config_path);
		return -1;
	}
	struct us_iface_config *ifc = &r->cfg.ifaces[0];
	if (!ifc->mac_set) {
		fprintf(stderr, "usreplay: %s: interface \"%s\" has no macaddress: a replay needs a "
			"fixed MAC (e.g. macaddress: 02:00:00:00:00:01)\n", r->config_path, ifc->name);
		return -1;
	}
	ifc->backend = US_BACKEND_PAIR;
	snprintf(ifc->device, sizeof ifc->device, "usreplay-%d", (int)getpid());
	ifc->output[0] = '\0';
	memset(&ifc->impair, 0, sizeof ifc->impair);
	if (us_config_validate(&r->cfg, err, sizeof err) < 0) {
		fprintf(stderr, "usreplay: %s\n", err);
		return -1;
	}
	memcpy(r->mac, ifc->mac, 6);
	return 0;
}

static bool to_stack(const struct replay *r, const struct rp_frame *f)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	if (f->len < 14)
		return false;
	return (memcmp(f->data, r->mac, 6) == 0 || memcmp(f->data, bcast, 6) == 0) &&
	       memcmp(f->data + 6, r->mac, 6) != 0;
}

/* Take every frame the stack has sent, stamped with its send time. */
static int collect(struct replay *r)
{
	static uint8_t buf[US_PAIR_FRAME_MAX];
	for (;;) {
		uint64_t t = us_pair_next_ready(r->peer);
		if (t == UINT64_MAX || t > us_stack_now(r->st))
			return 0;
		int n = us_pair_recv(r->peer, t, buf, sizeof buf);
		if (n <= 0)
			return 0;
		if (rp_trace_add(&r->out, t, buf, (size_t)n) < 0) {
			fprintf(stderr, "usreplay: out of memory\n");
			return -1;
		}
		log_frame(r, ">", t, buf, (size_t)n);
	}
}

static void advance_to(struct replay *r, uint64_t t)
{
	uint64_t now = us_stack_now(r->st);
	if (t > now)
		us_stack_advance(r->st, t - now);
	else
		us_stack_poll(r->st);
}

static int run(struct replay *r)
{
	char err[512];
	r->st = us_stack_new(&r->cfg, US_STACK_DETERMINISTIC, err, sizeof err);
	if (!r->st) {
		fprintf(stderr, "usreplay: %s\n", err);
		return 2;
	}
	r->peer = us_pair_attach(r->cfg.ifaces[0].device, NULL, 0, err, sizeof err);
	if (!r->peer) {
		fprintf(stderr, "usreplay: %s\n", err);
		return 2;
	}
	us_stack_up(r->st);
	if (collect(r) < 0)
		return 2;

	uint64_t t0 = r->in.n ? r->in.f[0].ts_ns : 0;
	uint64_t last = VIRTUAL_START_NS;
	for (size_t i = 0; i < r->in.n; i++) {
		if (r->in.f[i].ts_ns < t0) {
			fprintf(stderr, "usreplay: %s: frame %zu is earlier than the first frame\n",
				r->in_path, i + 1);
			return 2;
		}
		if (to_stack(r, &r->in.f[i]))
			last = VIRTUAL_START_NS + (r->in.f[i].ts_ns - t0);
	}
	size_t nev = r->script ? rp_script_count(r->script) : 0;
	if (nev && VIRTUAL_START_NS + rp_script_at(r->script, nev - 1) > last)
		last = VIRTUAL_START_NS + rp_script_at(r->script, nev - 1);
	uint64_t end = last + r->settle_ns;

	size_t fi = 0, ei = 0;
	for (;;) {
		while (fi < r->in.n && !to_stack(r, &r->in.f[fi]))
			fi++;
		uint64_t tf = fi < r->in.n ? VIRTUAL_START_NS + (r->in.f[fi].ts_ns - t0) : UINT64_MAX;
		uint64_t te = ei < nev ? VIRTUAL_START_NS + rp_script_at(r->script, ei) : UINT64_MAX;
		if (tf == UINT64_MAX && te == UINT64_MAX)
			break;
		uint64_t t = tf <= te ? tf : te;
		advance_to(r, t);
		if (collect(r) < 0)
			return 2;
		if (tf <= te) {
			const struct rp_frame *f = &r->in.f[fi++];
			if (f->len > US_PAIR_FRAME_MAX) {
				fprintf(stderr, "usreplay: %s: frame %zu is %u bytes, above the %d a "
					"wire carries; skipped\n", r->in_path, fi, f->len,
					US_PAIR_FRAME_MAX);
				continue;
			}
			log_frame(r, "<", t, f->data, f->len);
			if (us_pair_send(r->peer, t, f->data, f->len) < 0) {
				fprintf(stderr, "usreplay: inject frame %zu: %s\n", fi, strerror(errno));
				return 2;
			}
		} else {
			rp_script_run(r->script, ei++, r->st, r->verbose ? stdout : NULL);
		}
		us_stack_poll(r->st);
		if (collect(r) < 0)
			return 2;
	}
	advance_to(r, end);
	if (collect(r) < 0)
		return 2;
	/* The wire holds US_PAIR_QUEUE_SLOTS frames; more between two events are lost. */
	uint64_t lost = us_stack_stat(r->st, US_STAT_ETH_TX_ERRORS);
	if (lost) {
		fprintf(stderr, "usreplay: %llu frame%s the stack sent could not be recorded (more "
			"than %d between two trace frames or script events)\n",
			(unsigned long long)lost, lost == 1 ? "" : "s", US_PAIR_QUEUE_SLOTS);
		return 2;
	}
	return 0;
}

static int write_out(struct replay *r)
{
	char err[512];
	struct us_capture *c = us_capture_open(r->out_path, err, sizeof err);
	if (!c) {
		fprintf(stderr, "usreplay: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < r->out.n; i++)
		us_capture_write(c, r->out.f[i].ts_ns, r->out.f[i].data, r->out.f[i].len);
	us_capture_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stack-config", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "in", required_argument, NULL, OPT_IN },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "expect", required_argument, NULL, OPT_EXPECT },
		{ "script", required_argument, NULL, OPT_SCRIPT },
		{ "settle", required_argument, NULL, OPT_SETTLE },
		{ "check-times", no_argument, NULL, OPT_CHECK_TIMES },
		{ 0 },
	};
	static struct replay r;
	r.settle_ns = DEFAULT_SETTLE_NS;
	int opt;
	while ((opt = getopt_long(argc, argv, "C:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'C': r.config_path = optarg; break;
		case 'v': r.verbose++; break;
		case 'h': usage(stdout); return 0;
		case OPT_IN: r.in_path = optarg; break;
		case OPT_OUT: r.out_path = optarg; break;
		case OPT_EXPECT: r.expect_path = optarg; break;
		case OPT_SCRIPT: r.script_path = optarg; break;
		case OPT_CHECK_TIMES: r.check_times = true; break;
		case OPT_SETTLE:
			if (parse_secs(optarg, &r.settle_ns) < 0) {
				fprintf(stderr, "usreplay: --settle: expected seconds 0..86400, got \"%s\"\n",
					optarg);
				return 2;
			}
			r.settle_given = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "usreplay: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* As the other tools: the environment names the configuration when no flag does. */
	const char *env = getenv("USTACK_CONFIG");
	if (!r.config_path && env && env[0])
		r.config_path = env;
	if (!r.config_path || !r.in_path) {
		fprintf(stderr, "usreplay: -C HOST.yaml (or USTACK_CONFIG) and --in TRACE.pcap are required\n");
		usage(stderr);
		return 2;
	}
	if (setup_config(&r) < 0)
		return 2;
	char err[512];
	if (rp_pcap_read(r.in_path, &r.in, err, sizeof err) < 0) {
		fprintf(stderr, "usreplay: %s\n", err);
		return 2;
	}
	if (r.expect_path && rp_pcap_read(r.expect_path, &r.expect, err, sizeof err) < 0) {
		fprintf(stderr, "usreplay: %s\n", err);
		return 2;
	}
	if (r.script_path) {
		r.script = rp_script_load(r.script_path, err, sizeof err);
		if (!r.script) {
			fprintf(stderr, "usreplay: %s\n", err);
			return 2;
		}
		if (!r.settle_given && rp_script_settle(r.script) >= 0)
			r.settle_ns = (uint64_t)rp_script_settle(r.script);
	}

	int rc = run(&r);
	int script_errors = 0;
	if (r.script && r.st) {
		rp_script_finish(r.script, r.st, r.verbose ? stdout : NULL);
		script_errors = rp_script_errors(r.script);
	}
	if (r.st)
		us_stack_stop(r.st);
	if (r.script)
		rp_script_free(r.script, r.st);
	us_stack_free(r.st);
	if (r.peer)
		us_pair_detach(r.peer);
	if (rc == 0 && r.out_path && write_out(&r) < 0)
		rc = 2;
	int result = rc;
	if (rc == 0 && r.expect_path) {
		if (rp_trace_compare(&r.expect, &r.out, r.check_times, stdout) != 0)
			result = 1;
		else if (r.verbose)
			printf("output equals %s (%zu frames)\n", r.expect_path, r.out.n);
	}
	if (result == 0 && script_errors) {
		fprintf(stderr, "usreplay: %d script error%s\n", script_errors,
			script_errors == 1 ? "" : "s");
		result = 1;
	}
	rp_trace_free(&r.in);
	rp_trace_free(&r.out);
	rp_trace_free(&r.expect);
	return result;
}
