/*
 * test_capture.c — the pcap writer (backends/capture.c), read back with
 * libpcap and, when installed, tshark and tcpdump.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "harness.h"
#include "link.h"

static char dir[64];
static char err[512];

static int cap_init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ustack-capture-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int cap_fini(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in_dir(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

/* A frame of len bytes whose content depends on tag. */
static void fill(uint8_t *f, size_t len, uint32_t tag)
{
	static const uint8_t hdr[14] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5 };
	for (size_t i = 0; i < len; i++)
		f[i] = i < 14 ? hdr[i] : (uint8_t)(tag * 31 + i * 7);
	if (len >= 18) {
		f[14] = (uint8_t)(tag >> 24);
		f[15] = (uint8_t)(tag >> 16);
		f[16] = (uint8_t)(tag >> 8);
		f[17] = (uint8_t)tag;
	}
}

/* An ARP request (RFC 826) 10.0.0.1 asks for 10.0.0.2, padded to 60 bytes. */
static size_t arp_request(uint8_t *f)
{
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 10, 0, 0, 1,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2,
	};
	memset(f, 0, 60);
	memcpy(f, arp, sizeof(arp));
	return 60;
}

static void test_capture_roundtrip(void)
{
	char path[128];
	path_in_dir(path, sizeof(path), "rt.pcap");
	struct us_capture *c = us_capture_open(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	static uint8_t f[70000];
	const size_t lens[] = { 14, 60, 1514, 9014, 65535, 70000 };
	/* libpcap reads ts_sec as signed 32 bits: the last is the largest it takes. */
	const uint64_t ts[] = { 0, 999, 1234567890123456789ULL, 1000000000ULL,
				5ULL * 1000000000 + 999999999, 2147483647ULL * 1000000000 + 999999 };
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	for (size_t i = 0; i < n; i++) {
		fill(f, lens[i], (uint32_t)i);
		us_capture_write(c, ts[i], f, lens[i]);
	}

	/* Readable before close: everything is flushed per frame. */
	char ebuf[PCAP_ERRBUF_SIZE];
	for (int pass = 0; pass < 2; pass++) {
		pcap_t *p = pcap_open_offline(path, ebuf);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_EQUAL(pcap_datalink(p), DLT_EN10MB);
		CU_ASSERT_EQUAL(pcap_snapshot(p), 65535);
		CU_ASSERT_EQUAL(pcap_major_version(p), 2);
		CU_ASSERT_EQUAL(pcap_minor_version(p), 4);
		CU_ASSERT_FALSE(pcap_is_swapped(p));
		struct pcap_pkthdr *h;
		const u_char *d;
		for (size_t i = 0; i < n; i++) {
			CU_ASSERT_EQUAL_FATAL(pcap_next_ex(p, &h, &d), 1);
			fill(f, lens[i], (uint32_t)i);
			size_t incl = lens[i] > 65535 ? 65535 : lens[i];
			CU_ASSERT_EQUAL(h->caplen, incl);
			CU_ASSERT_EQUAL(h->len, lens[i]);
			CU_ASSERT(memcmp(d, f, incl) == 0);
			CU_ASSERT_EQUAL((uint64_t)h->ts.tv_sec, (uint32_t)(ts[i] / 1000000000));
			CU_ASSERT_EQUAL((uint64_t)h->ts.tv_usec, ts[i] % 1000000000 / 1000);
		}
		CU_ASSERT_EQUAL(pcap_next_ex(p, &h, &d), PCAP_ERROR_BREAK);
		pcap_close(p);
		if (pass == 0)
			us_capture_close(c);
	}

	/* The header bytes themselves. */
	FILE *fp = fopen(path, "rb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	uint32_t gh[6];
	CU_ASSERT_EQUAL(fread(gh, sizeof(gh), 1, fp), 1);
	fclose(fp);
	CU_ASSERT_EQUAL(gh[0], 0xa1b2c3d4);
	CU_ASSERT_EQUAL(gh[1], 2u | 4u << 16);
	CU_ASSERT_EQUAL(gh[4], 65535);
	CU_ASSERT_EQUAL(gh[5], 1);
}

static void test_capture_open_error(void)
{
	const char *path = "/nonexistent-ustack-dir/x.pcap";
	err[0] = 0;
	errno = 0;
	CU_ASSERT_PTR_NULL(us_capture_open(path, err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
	/* NULL is accepted as "no capture". */
	us_capture_write(NULL, 0, (const uint8_t *)"x", 1);
	us_capture_close(NULL);
}

#define NTHREADS 4
#define PER_THREAD 500

struct writer {
	struct us_capture *c;
	uint32_t id;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	uint8_t f[2000];
	for (uint32_t i = 0; i < PER_THREAD; i++) {
		uint32_t tag = w->id * PER_THREAD + i;
		size_t len = 60 + (tag * 13) % 1400;
		fill(f, len, tag);
		us_capture_write(w->c, (uint64_t)tag * 1000, f, len);
	}
	return NULL;
}

static void test_capture_threads(void)
{
	char path[128];
	path_in_dir(path, sizeof(path), "threads.pcap");
	struct us_capture *c = us_capture_open(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	pthread_t th[NTHREADS];
	struct writer w[NTHREADS];
	for (uint32_t i = 0; i < NTHREADS; i++) {
		w[i] = (struct writer){ c, i };
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, writer_thread, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	us_capture_close(c);

	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, ebuf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	static bool seen[NTHREADS * PER_THREAD];
	memset(seen, 0, sizeof(seen));
	struct pcap_pkthdr *h;
	const u_char *d;
	int count = 0, bad = 0;
	uint8_t f[2000];
	while (pcap_next_ex(p, &h, &d) == 1) {
		count++;
		uint32_t tag = (uint32_t)d[14] << 24 | (uint32_t)d[15] << 16 | (uint32_t)d[16] << 8 | d[17];
		if (tag >= NTHREADS * PER_THREAD || seen[tag]) {
			bad++;
			continue;
		}
		seen[tag] = true;
		size_t len = 60 + (tag * 13) % 1400;
		fill(f, len, tag);
		if (h->caplen != len || memcmp(d, f, len) != 0 ||
		    (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec != tag)
			bad++;
	}
	pcap_close(p);
	CU_ASSERT_EQUAL(count, NTHREADS * PER_THREAD);
	CU_ASSERT_EQUAL(bad, 0);
}

/*
 * Run cmd; return the count of output lines (with only_unindented, those not
 * indented: tcpdump indents its hex dumps of unknown EtherTypes), and in
 * matches the count of lines containing needle. -1 if the command failed.
 */
static int run_count(const char *cmd, bool only_unindented, const char *needle, int *matches)
{
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	char line[1024];
	int lines = 0;
	*matches = 0;
	while (fgets(line, sizeof(line), p)) {
		if (!only_unindented || (line[0] != ' ' && line[0] != '\t'))
			lines++;
		if (strstr(line, needle))
			(*matches)++;
	}
	int st = pclose(p);
	return st == 0 ? lines : -1;
}

static void test_capture_tools_read_it(void)
{
	char path[128];
	path_in_dir(path, sizeof(path), "tools.pcap");
	struct us_capture *c = us_capture_open(path, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	uint8_t f[1514];
	size_t n = arp_request(f);
	us_capture_write(c, 1700000000ULL * 1000000000, f, n);
	fill(f, sizeof(f), 1);
	us_capture_write(c, 1700000000ULL * 1000000000 + 1000, f, sizeof(f));
	fill(f, 60, 2);
	us_capture_write(c, 1700000001ULL * 1000000000, f, 60);
	us_capture_close(c);

	char cmd[512];
	int matches;
	if (access("/usr/bin/tshark", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/tshark -n -r '%s' 2>/dev/null", path);
		CU_ASSERT_EQUAL(run_count(cmd, false, "Malformed", &matches), 3);
		CU_ASSERT_EQUAL(matches, 0);
		snprintf(cmd, sizeof(cmd), "/usr/bin/tshark -n -r '%s' 2>/dev/null", path);
		CU_ASSERT_EQUAL(run_count(cmd, false, "Who has 10.0.0.2? Tell 10.0.0.1", &matches), 3);
		CU_ASSERT_EQUAL(matches, 1);
	} else {
		fprintf(stderr, "\n  SKIPPED tshark check: /usr/bin/tshark not installed\n");
	}
	if (access("/usr/bin/tcpdump", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "/usr/bin/tcpdump -nn -r '%s' 2>/dev/null", path);
		CU_ASSERT_EQUAL(run_count(cmd, true, "ARP, Request who-has 10.0.0.2 tell 10.0.0.1",
					  &matches), 3);
		CU_ASSERT_EQUAL(matches, 1);
	} else {
		fprintf(stderr, "\n  SKIPPED tcpdump check: /usr/bin/tcpdump not installed\n");
	}
}

US_SUITE(capture, cap_init, cap_fini,
	 US_TEST(test_capture_roundtrip),
	 US_TEST(test_capture_open_error),
	 US_TEST(test_capture_threads),
	 US_TEST(test_capture_tools_read_it));
