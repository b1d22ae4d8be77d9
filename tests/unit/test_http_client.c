/*
 * test_http_client.c — the pure parts of uscurl (tools/common/http_client.c)
 * on byte arrays and a virtual clock: curl 7.88's progress meter (which
 * seconds show a line, the "Current" speed over the last seconds, the
 * "Left" column at the end), the -# bar, --data-urlencode's encoding, the
 * request head's field order, and -w's variables and JSON.
 *
 * Expected strings are worked out by hand from curl's lib/progress.c,
 * src/tool_cb_prg.c and src/tool_writeout.c, not taken from this code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "harness.h"
#include "tools/common/http_client.h"

#define S(sec) ((uint64_t)((sec) * 1000000.0))   /* seconds on the virtual clock, in us */

/* A line a second, "Current" over the samples, "Left" = estimate - spent. */
static void test_meter_current_and_left(void)
{
	struct hc_meter m;
	char line[160];
	hc_meter_init(&m, S(100));
	/* 0.5 s in, half of 100000 bytes: the first line; Current is the average. */
	CU_ASSERT_TRUE(hc_meter_calc(&m, S(100.5), 50000, 0, false));
	hc_meter_line(&m, line, sizeof line, 100000, -1);
	/* dlspeed 100000 B/s ("  97k"), estimate 1 s, spent 0 (--:--:--), left 1 s */
	CU_ASSERT_STRING_EQUAL(line, " 50   97k   50 50000    0     0    97k      0  0:00:01 "
				     "--:--:--  0:00:01   97k");
	/* The same second again: no line. */
	CU_ASSERT_FALSE(hc_meter_calc(&m, S(100.9), 80000, 0, false));
	/* A new second: a line; Current over 100.5 .. 101.2 = 50000 B in 700 ms. */
	CU_ASSERT_TRUE(hc_meter_calc(&m, S(101.2), 100000, 0, false));
	CU_ASSERT_EQUAL(m.current_speed, 50000ull * 1000 / 700);
	/* The final (forced) line in the same second: Current over 800 ms, Left --:--:--. */
	CU_ASSERT_TRUE(hc_meter_calc(&m, S(101.3), 100000, 0, true));
	hc_meter_line(&m, line, sizeof line, 100000, -1);
	/* dlspeed 100000 / 1.3 s = 76923; estimate 1 s, spent 1 s: left 0 -> --:--:--;
	 * current 50000 B / 0.8 s = 62500. */
	CU_ASSERT_STRING_EQUAL(line, "100   97k  100   97k    0     0  76923      0  0:00:01  "
				     "0:00:01 --:--:-- 62500");
}

/* After six samples the oldest is dropped: Current covers the last five seconds. */
static void test_meter_window(void)
{
	struct hc_meter m;
	hc_meter_init(&m, 0);
	/* 10000 B/s for 6 s, then 1000 B/s: at t = 10 the window is t = 5..10. */
	uint64_t bytes = 0;
	for (int t = 0; t <= 10; t++) {
		hc_meter_calc(&m, S(t), bytes, 0, false);
		bytes += t < 6 ? 10000 : 1000;
	}
	/* bytes(t) = 10000 * min(t, 6) + 1000 * max(t - 6, 0): the oldest sample kept
	 * is t = 5 (50000), the newest t = 10 (64000), 5000 ms apart. */
	CU_ASSERT_EQUAL(m.current_speed, (64000ull - 50000ull) * 1000 / 5000);
}

/* Unknown size: no percentages, no estimate. */
static void test_meter_unknown_size(void)
{
	struct hc_meter m;
	char line[160];
	hc_meter_init(&m, 0);
	hc_meter_calc(&m, S(2), 200000, 0, true);
	hc_meter_line(&m, line, sizeof line, -1, -1);
	/* 200000 B in 2 s: 100000 B/s ("  97k"); no total, so no percentage or estimate. */
	CU_ASSERT_STRING_EQUAL(line, "100  195k    0  195k    0     0    97k      0 --:--:--  "
				     "0:00:02 --:--:--   97k");
}

static char *capture_bar(int width, uint64_t total, uint64_t now)
{
	struct hc_bar b;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	hc_bar_init(&b, width, 0);
	hc_bar_update(&b, f, 1000, total, now, 0, 0);
	hc_bar_end(&b, f);
	fclose(f);
	return buf;
}

static void test_bar(void)
{
	char *s = capture_bar(80, 1000, 500);
	/* barwidth 73, 36 '#', padded to 73, then " 50.0%", then the final newline */
	char want[128];
	snprintf(want, sizeof want, "\r%-73s  50.0%%\n", "####################################");
	CU_ASSERT_STRING_EQUAL(s, want);
	free(s);
	s = capture_bar(80, 0, 500);   /* unknown size, first call: nothing but the newline */
	CU_ASSERT_STRING_EQUAL(s, "\n");
	free(s);
}

static void test_urlencode(void)
{
	char out[64];
	CU_ASSERT_EQUAL(hc_urlencode("a b&c/\xc3\xa9~*", 10, out, sizeof out), 20);
	CU_ASSERT_STRING_EQUAL(out, "a+b%26c%2f%c3%a9~%2a");
	CU_ASSERT_EQUAL(hc_urlencode("abc", 3, out, 3), -1);     /* no room for the NUL */
}

static void test_request_head_order(void)
{
	struct hc_url u;
	char err[128], out[1024];
	CU_ASSERT_EQUAL(hc_url_parse("http://h.test:8080/up/", &u, err, sizeof err), HC_OK);
	const char *hdrs[] = { "X-A: 1", "Host: other.test" };
	struct hc_request rq = {
		.method = "PUT", .url = &u, .user_agent = "ua", .credentials = "a:b",
		.range = "0-9", .headers = hdrs, .nheaders = 2, .body = HC_BODY_UPLOAD,
		.body_len = 6,
	};
	CU_ASSERT(hc_request_head(&rq, out, sizeof out) > 0);
	CU_ASSERT_STRING_EQUAL(out, "PUT /up/ HTTP/1.1\r\n"
				    "Host: other.test\r\n"
				    "Authorization: Basic YTpi\r\n"
				    "Range: bytes=0-9\r\n"
				    "User-Agent: ua\r\n"
				    "Accept: */*\r\n"
				    "X-A: 1\r\n"
				    "Content-Length: 6\r\n"
				    "Expect: 100-continue\r\n"
				    "\r\n");
	/* -d: Expect only above 1 MiB, as curl 7.88. */
	rq.body = HC_BODY_FORM;
	rq.range = NULL;
	rq.credentials = NULL;
	rq.nheaders = 1;
	rq.body_len = 1048576;
	CU_ASSERT(hc_request_head(&rq, out, sizeof out) > 0);
	CU_ASSERT_PTR_NULL(strstr(out, "Expect:"));
	rq.body_len = 1048577;
	CU_ASSERT(hc_request_head(&rq, out, sizeof out) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Content-Type: application/x-www-form-urlencoded\r\n"
					   "Expect: 100-continue\r\n\r\n"));
	rq.body = HC_BODY_UPLOAD_CHUNKED;
	rq.range = NULL;
	rq.credentials = NULL;
	rq.nheaders = 1;
	CU_ASSERT(hc_request_head(&rq, out, sizeof out) > 0);
	CU_ASSERT_STRING_EQUAL(out, "PUT /up/ HTTP/1.1\r\n"
				    "Host: h.test:8080\r\n"
				    "User-Agent: ua\r\n"
				    "Accept: */*\r\n"
				    "Transfer-Encoding: chunked\r\n"
				    "X-A: 1\r\n"
				    "Expect: 100-continue\r\n"
				    "\r\n");
}

static char *capture_writeout(const char *fmt, const struct hc_writeout_vars *v, char **err)
{
	char *o = NULL, *e = NULL;
	size_t ol = 0, el = 0;
	FILE *fo = open_memstream(&o, &ol), *fe = open_memstream(&e, &el);
	hc_writeout(fmt, v, fo, fe);
	fclose(fo);
	fclose(fe);
	*err = e;
	return o;
}

static const char head[] = "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\nX-A:  2 \r\n"
			   "Content-Type: text/plain\r\n\r\n";

static void test_writeout(void)
{
	struct hc_writeout_vars v = {
		.http_code = 200, .http_minor = 1, .exitcode = 0, .num_connects = 1,
		.time_total = 1234567, .url = "http://h/", .scheme = "HTTP", .method = "GET",
		.head = head, .head_len = sizeof head - 1, .version = "uscurl/x",
	};
	char *err;
	char *out = capture_writeout("%{http_version}|%{scheme}|%{HTTP_CODE}|%{num_headers}|"
				     "%{time_total}|%{errormsg}|%header{x-a}|\\q|%x|%{nope}\\n", &v, &err);
	CU_ASSERT_STRING_EQUAL(out, "1.1|HTTP|200|4|1.234567||1|\\q|%x|\n");
	CU_ASSERT_STRING_EQUAL(err, "uscurl: unknown --write-out variable: 'nope'\n");
	free(out);
	free(err);
	/* %{onerror}: on success nothing after it; %{stderr} switches the stream. */
	out = capture_writeout("a%{onerror}b", &v, &err);
	CU_ASSERT_STRING_EQUAL(out, "a");
	free(out);
	free(err);
	out = capture_writeout("o%{stderr}e%{stdout}O", &v, &err);
	CU_ASSERT_STRING_EQUAL(out, "oO");
	CU_ASSERT_STRING_EQUAL(err, "e");
	free(out);
	free(err);
	v.exitcode = 7;
	v.http_minor = -1;
	v.errormsg = "Failed \"x\"\n";
	out = capture_writeout("%{onerror}%{exitcode} %{http_version}", &v, &err);
	CU_ASSERT_STRING_EQUAL(out, "7 0");
	free(out);
	free(err);
	/* header_json: every name once, lower case, all its values in order. */
	out = capture_writeout("%{header_json}", &v, &err);
	CU_ASSERT_STRING_EQUAL(out, "{\"x-a\":[\"1\",\"2\"],\n\"content-length\":[\"2\"],\n"
				    "\"content-type\":[\"text/plain\"]\n}");
	free(out);
	free(err);
	/* json: NULL strings are null, strings escaped, curl_version last. */
	out = capture_writeout("%{json}", &v, &err);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"errormsg\":\"Failed \\\"x\\\"\\n\","));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"content_type\":null,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"http_version\":\"0\","));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"certs\":\"\",\"content_type\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"urlnum\":0,\"curl_version\":\"uscurl/x\"}"));
	free(out);
	free(err);
}

static void test_parse_head_range_and_retry(void)
{
	struct hc_response r;
	char err[128];
	static const char h1[] = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-199/300\r\n"
				 "Content-Length: 100\r\nRetry-After: 7\r\n\r\n";
	CU_ASSERT_EQUAL(hc_parse_head(h1, sizeof h1 - 1, false, &r, err, sizeof err), HC_OK);
	CU_ASSERT_TRUE(r.has_range_start);
	CU_ASSERT_EQUAL(r.range_start, 100);
	CU_ASSERT_EQUAL(r.retry_after, 7);
	static const char h2[] = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */300\r\n"
				 "Content-Length: 0\r\n\r\n";
	CU_ASSERT_EQUAL(hc_parse_head(h2, sizeof h2 - 1, false, &r, err, sizeof err), HC_OK);
	CU_ASSERT_FALSE(r.has_range_start);
	CU_ASSERT_EQUAL(r.retry_after, 0);
}

/* The three HTTP-date forms (RFC 9110 5.6.7) and near misses. */
static void test_http_date(void)
{
	time_t t;
	const time_t want = 784111777;  /* Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example) */
	static const char *const good[] = { "Sun, 06 Nov 1994 08:49:37 GMT",
					    "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994" };
	for (size_t i = 0; i < 3; i++) {
		t = 0;
		CU_ASSERT_TRUE(hc_parse_http_date(good[i], strlen(good[i]), &t));
		CU_ASSERT_EQUAL(t, want);
	}
	static const char *const bad[] = { "", "yesterday", "Sun, 06 Nov 1994 08:49:37 UTC",
					   "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
					   "Sun, 06 Nov 1994 08:49:37 GMT x", "1994-11-06T08:49:37Z" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT_FALSE(hc_parse_http_date(bad[i], strlen(bad[i]), &t));
	struct hc_response r;
	char err[64];
	static const char h[] = "HTTP/1.1 503 x\r\nRetry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
				"Content-Length: 0\r\n\r\n";
	CU_ASSERT_EQUAL(hc_parse_head(h, sizeof h - 1, false, &r, err, sizeof err), HC_OK);
	CU_ASSERT_EQUAL(r.retry_after, 0);
	CU_ASSERT_EQUAL(r.retry_after_date, want);
}

US_SUITE(http_client, NULL, NULL,
	 US_TEST(test_http_date),
	 US_TEST(test_meter_current_and_left),
	 US_TEST(test_meter_window),
	 US_TEST(test_meter_unknown_size),
	 US_TEST(test_bar),
	 US_TEST(test_urlencode),
	 US_TEST(test_request_head_order),
	 US_TEST(test_writeout),
	 US_TEST(test_parse_head_range_and_retry));
