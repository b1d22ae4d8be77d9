/*
 * log.c — the one place that writes log lines.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static const char *const lvl_name[] = { "error", "warn", "info", "debug", "trace" };

void us_log_at(enum us_log_level cur, enum us_log_level lvl, const char *file, int line,
	       const char *func, const char *fmt, ...)
{
	char msg[1024];
	int n;
	if (cur >= US_LOG_DEBUG)
		n = snprintf(msg, sizeof msg, "ustack: %s: %s:%d %s: ", lvl_name[lvl], file, line, func);
	else
		n = snprintf(msg, sizeof msg, "ustack: %s: ", lvl_name[lvl]);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs of a whole line: stdio locks the stream around it. */
	flockfile(stderr);
	fputs(msg, stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
}
