/*
 * test_pcapfile.c — the pcap-file backend (backends/pcap.c): input frames
 * released at their relative timestamps on the link's clock, output written
 * by the capture writer, errors for unusable files.
 *
 * Input files are made with the capture writer (microsecond timestamps) or,
 * for the nanosecond format and a foreign linktype, by hand.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "harness.h"
#include "clock.h"
#include "link.h"

#define T0 (7 * US_NS_PER_SEC + 12345)  /* the clock at open() */
#define MS US_NS_PER_MS

static char dir[64];
static char err[512];

static int pf_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ustack-pcapfile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int pf_fini(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void fill(uint8_t *f, size_t len, uint32_t tag)
{
	memset(f, 0xff, 6);
	for (size_t i = 6; i < len; i++)
		f[i] = (uint8_t)(tag * 17 + i);
	f[12] = 0x88;
	f[13] = 0xb5;
}

static void cfg_for(struct us_iface_config *c, const char *in, const char *out)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "eth0");
	c->backend = US_BACKEND_PCAP_FILE;
	snprintf(c->device, sizeof(c->device), "%s", in);
	snprintf(c->output, sizeof(c->output), "%s", out);
	c->mtu = 1500;
}

/* Write an input file with the capture writer: frames of tag i at ts[i]. */
static void make_input(const char *path, const uint64_t *ts, const size_t *lens, int n)
{
	struct us_capture *c = us_capture_open(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	uint8_t f[1514];
	for (int i = 0; i < n; i++) {
		fill(f, lens[i], (uint32_t)i);
		us_capture_write(c, ts[i], f, lens[i]);
	}
	us_capture_close(c);
}

static void expect_frame(struct us_link *l, int tag, size_t len)
{
	uint8_t f[1514], g[1514];
	fill(f, len, (uint32_t)tag);
	int n = l->ops->recv(l, g, sizeof(g), 0);
	CU_ASSERT_EQUAL(n, (int)len);
	CU_ASSERT(n > 0 && memcmp(f, g, len) == 0);
}

static void test_pcapfile_timing(void)
{
	char in[128], out[128];
	snprintf(in, sizeof(in), "%s/in.pcap", dir);
	snprintf(out, sizeof(out), "%s/out.pcap", dir);
	const uint64_t ts[] = { 100 * US_NS_PER_SEC, 100 * US_NS_PER_SEC + 10 * MS,
				100 * US_NS_PER_SEC + 10 * MS, 102 * US_NS_PER_SEC + 500 * MS + 1000 };
	const size_t lens[] = { 60, 1514, 100, 42 };
	make_input(in, ts, lens, 4);

	struct us_clock clk;
	clk.is_virtual = true;
	atomic_store(&clk.vnow, T0);
	struct us_iface_config c;
	cfg_for(&c, in, out);
	const struct us_link_ops *ops = us_link_ops_for(US_BACKEND_PCAP_FILE);
	CU_ASSERT_PTR_EQUAL_FATAL(ops, &us_link_pcap_file);
	CU_ASSERT_STRING_EQUAL(ops->name, "pcap-file");
	struct us_link l = { .ops = ops, .clock = &clk };
	CU_ASSERT_EQUAL_FATAL(ops->open(&l, &c, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(l.caps.can_block);
	CU_ASSERT_FALSE(l.caps.has_mac);
	CU_ASSERT(l.caps.mtu_max >= 1500);

	uint8_t g[1514];
	/* The first frame is due at the clock value at open(). */
	CU_ASSERT_EQUAL(ops->next_ready(&l), T0);
	expect_frame(&l, 0, 60);
	/* Not due yet: 0 at once, whatever the timeout (virtual clocks never wait). */
	CU_ASSERT_EQUAL(ops->next_ready(&l), T0 + 10 * MS);
	uint64_t wall = us_monotonic_ns();
	CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 2000), 0);
	CU_ASSERT(us_monotonic_ns() - wall < 1000 * MS);
	atomic_store(&clk.vnow, T0 + 10 * MS - 1);
	CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 0), 0);
	atomic_store(&clk.vnow, T0 + 10 * MS);
	expect_frame(&l, 1, 1514);
	CU_ASSERT_EQUAL(ops->next_ready(&l), T0 + 10 * MS); /* same timestamp */
	expect_frame(&l, 2, 100);
	CU_ASSERT_EQUAL(ops->next_ready(&l), T0 + 2500 * MS + 1000);
	CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 0), 0);
	/* Late is fine: a frame is returned once the clock is past its time. */
	atomic_store(&clk.vnow, T0 + 3 * US_NS_PER_SEC);
	expect_frame(&l, 3, 42);
	/* End of file. */
	CU_ASSERT_EQUAL(ops->next_ready(&l), UINT64_MAX);
	errno = 0;
	CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 0), -1);
	CU_ASSERT_EQUAL(errno, ENODATA);
	errno = 0;
	CU_ASSERT_EQUAL(ops->recv(&l, g, sizeof(g), 0), -1);
	CU_ASSERT_EQUAL(errno, ENODATA);

	/* Output at the clock's time. */
	uint8_t f[200];
	fill(f, 200, 50);
	atomic_store(&clk.vnow, 9 * US_NS_PER_SEC + 123456789);
	CU_ASSERT_EQUAL(ops->send(&l, f, 200), 0);
	fill(f, 70, 51);
	atomic_store(&clk.vnow, 10 * US_NS_PER_SEC);
	CU_ASSERT_EQUAL(ops->send(&l, f, 70), 0);
	ops->close(&l);

	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(out, ebuf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(pcap_datalink(p), DLT_EN10MB);
	struct pcap_pkthdr *h;
	const u_char *d;
	CU_ASSERT_EQUAL_FATAL(pcap_next_ex(p, &h, &d), 1);
	fill(f, 200, 50);
	CU_ASSERT_EQUAL(h->caplen, 200);
	CU_ASSERT(memcmp(d, f, 200) == 0);
	CU_ASSERT_EQUAL(h->ts.tv_sec, 9);
	CU_ASSERT_EQUAL(h->ts.tv_usec, 123456);
	CU_ASSERT_EQUAL_FATAL(pcap_next_ex(p, &h, &d), 1);
	fill(f, 70, 51);
	CU_ASSERT_EQUAL(h->caplen, 70);
	CU_ASSERT(memcmp(d, f, 70) == 0);
	CU_ASSERT_EQUAL(h->ts.tv_sec, 10);
	CU_ASSERT_EQUAL(h->ts.tv_usec, 0);
	CU_ASSERT_EQUAL(pcap_next_ex(p, &h, &d), PCAP_ERROR_BREAK);
	pcap_close(p);
}

static void test_pcapfile_discard_output(void)
{
	char in[128];
	snprintf(in, sizeof(in), "%s/in2.pcap", dir);
	const uint64_t ts[] = { 5 * US_NS_PER_SEC };
	const size_t lens[] = { 60 };
	make_input(in, ts, lens, 1);
	struct us_clock clk;
	us_clock_init(&clk, true);
	struct us_iface_config c;
	cfg_for(&c, in, "");
	struct us_link l = { .ops = &us_link_pcap_file, .clock = &clk };
	CU_ASSERT_EQUAL_FATAL(l.ops->open(&l, &c, err, sizeof(err)), 0);
	uint8_t f[60];
	fill(f, 60, 1);
	CU_ASSERT_EQUAL(l.ops->send(&l, f, 60), 0);
	expect_frame(&l, 0, 60);
	l.ops->close(&l);
}

/* Little-endian words into a file: a hand-made pcap. */
static void put32(FILE *f, uint32_t v)
{
	fwrite(&v, 4, 1, f);
}

static void write_raw_pcap(const char *path, uint32_t magic, uint32_t linktype,
			   const uint32_t (*recs)[2], int n, size_t len)
{
	FILE *f = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	put32(f, magic);
	put32(f, 2 | 4 << 16);
	put32(f, 0);
	put32(f, 0);
	put32(f, 65535);
	put32(f, linktype);
	uint8_t d[1514];
	for (int i = 0; i < n; i++) {
		put32(f, recs[i][0]);
		put32(f, recs[i][1]);
		put32(f, (uint32_t)len);
		put32(f, (uint32_t)len);
		fill(d, len, (uint32_t)i);
		fwrite(d, len, 1, f);
	}
	fclose(f);
}

static void test_pcapfile_nanosecond_input(void)
{
	char in[128];
	snprintf(in, sizeof(in), "%s/ns.pcap", dir);
	const uint32_t recs[][2] = { { 1, 0 }, { 1, 500 }, { 2, 999999999 } };
	write_raw_pcap(in, 0xa1b23c4d, 1, recs, 3, 60);
	struct us_clock clk;
	clk.is_virtual = true;
	atomic_store(&clk.vnow, T0);
	struct us_iface_config c;
	cfg_for(&c, in, "");
	struct us_link l = { .ops = &us_link_pcap_file, .clock = &clk };
	CU_ASSERT_EQUAL_FATAL(l.ops->open(&l, &c, err, sizeof(err)), 0);
	expect_frame(&l, 0, 60);
	CU_ASSERT_EQUAL(l.ops->next_ready(&l), T0 + 500);
	atomic_store(&clk.vnow, T0 + 500);
	expect_frame(&l, 1, 60);
	CU_ASSERT_EQUAL(l.ops->next_ready(&l), T0 + 1999999999);
	l.ops->close(&l);
}

static void test_pcapfile_errors(void)
{
	struct us_clock clk;
	us_clock_init(&clk, true);
	struct us_iface_config c;
	struct us_link l = { .ops = &us_link_pcap_file, .clock = &clk };

	char in[128];
	snprintf(in, sizeof(in), "%s/raw.pcap", dir);
	const uint32_t recs[][2] = { { 1, 0 } };
	write_raw_pcap(in, 0xa1b2c3d4, 101 /* LINKTYPE_RAW */, recs, 1, 40);
	cfg_for(&c, in, "");
	err[0] = 0;
	errno = 0;
	CU_ASSERT_EQUAL(l.ops->open(&l, &c, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, in));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "link type RAW"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "need Ethernet"));

	snprintf(in, sizeof(in), "%s/missing.pcap", dir);
	cfg_for(&c, in, "");
	err[0] = 0;
	CU_ASSERT_EQUAL(l.ops->open(&l, &c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, in));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));

	snprintf(in, sizeof(in), "%s/notpcap.pcap", dir);
	FILE *f = fopen(in, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("this is not a capture file at all\n", f);
	fclose(f);
	cfg_for(&c, in, "");
	err[0] = 0;
	CU_ASSERT_EQUAL(l.ops->open(&l, &c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, in));

	/* An output that cannot be created. */
	snprintf(in, sizeof(in), "%s/in3.pcap", dir);
	const uint64_t ts[] = { 0 };
	const size_t lens[] = { 60 };
	make_input(in, ts, lens, 1);
	cfg_for(&c, in, "/nonexistent-ustack-dir/out.pcap");
	err[0] = 0;
	CU_ASSERT_EQUAL(l.ops->open(&l, &c, err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent-ustack-dir/out.pcap"));

	/* An empty capture: at end from the start. */
	snprintf(in, sizeof(in), "%s/empty.pcap", dir);
	write_raw_pcap(in, 0xa1b2c3d4, 1, recs, 0, 60);
	cfg_for(&c, in, "");
	CU_ASSERT_EQUAL_FATAL(l.ops->open(&l, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(l.ops->next_ready(&l), UINT64_MAX);
	uint8_t g[64];
	errno = 0;
	CU_ASSERT_EQUAL(l.ops->recv(&l, g, sizeof(g), 0), -1);
	CU_ASSERT_EQUAL(errno, ENODATA);
	l.ops->close(&l);
}

struct waker {
	struct us_link *l;
	int ms;
};

static void *wake_later(void *arg)
{
	struct waker *w = arg;
	struct timespec ts = { 0, w->ms * 1000000L };
	nanosleep(&ts, NULL);
	w->l->ops->wakeup(w->l);
	return NULL;
}

static void test_pcapfile_real_clock(void)
{
	char in[128];
	snprintf(in, sizeof(in), "%s/real.pcap", dir);
	const uint64_t ts[] = { 50 * US_NS_PER_SEC, 50 * US_NS_PER_SEC + 150 * MS,
				60 * US_NS_PER_SEC + 150 * MS };
	const size_t lens[] = { 60, 61, 62 };
	make_input(in, ts, lens, 3);
	struct us_clock clk;
	us_clock_init(&clk, false);
	struct us_iface_config c;
	cfg_for(&c, in, "");
	struct us_link l = { .ops = &us_link_pcap_file, .clock = &clk };
	uint64_t t0 = us_clock_now(&clk);
	CU_ASSERT_EQUAL_FATAL(l.ops->open(&l, &c, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(l.caps.can_block);
	uint8_t g[64];
	CU_ASSERT_EQUAL(l.ops->recv(&l, g, sizeof(g), 1000), 60);
	/* The second frame: waited for, released no earlier than 150 ms on. */
	int n = 0;
	for (int i = 0; i < 10 && n == 0; i++)
		n = l.ops->recv(&l, g, sizeof(g), 1000);
	CU_ASSERT_EQUAL(n, 61);
	CU_ASSERT(us_clock_now(&clk) - t0 >= 150 * MS);
	CU_ASSERT(us_clock_now(&clk) - t0 < 5000 * MS);
	/* The third is 10 s away: a short timeout returns 0 after it... */
	uint64_t t = us_clock_now(&clk);
	CU_ASSERT_EQUAL(l.ops->recv(&l, g, sizeof(g), 100), 0);
	CU_ASSERT(us_clock_now(&clk) - t >= 100 * MS);
	/* ...and a wakeup cuts a long one short. */
	struct waker w = { &l, 50 };
	pthread_t th;
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, wake_later, &w), 0);
	t = us_clock_now(&clk);
	CU_ASSERT_EQUAL(l.ops->recv(&l, g, sizeof(g), 5000), 0);
	CU_ASSERT(us_clock_now(&clk) - t < 2500 * MS);
	pthread_join(th, NULL);
	l.ops->close(&l);
}

US_SUITE(pcapfile, pf_init, pf_fini,
	 US_TEST(test_pcapfile_timing),
	 US_TEST(test_pcapfile_discard_output),
	 US_TEST(test_pcapfile_nanosecond_input),
	 US_TEST(test_pcapfile_errors),
	 US_TEST(test_pcapfile_real_clock));
