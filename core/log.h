/*
 * log.h — leveled logging to stderr, one whole line per call so lines from
 * different threads never interleave. Level, file, line and function are
 * printed at debug and trace; info and above print just the message.
 */
#ifndef US_LOG_H
#define US_LOG_H

#include "ustack/config.h"

void us_log_at(enum us_log_level cur, enum us_log_level lvl, const char *file, int line,
	       const char *func, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* st is anything with a log_level field (struct us_stack). */
#define US_LOG(st, lvl, ...)                                                          \
	do {                                                                          \
		if ((lvl) <= (st)->log_level)                                         \
			us_log_at((st)->log_level, (lvl), __FILE__, __LINE__, __func__,  \
				  __VA_ARGS__);                                       \
	} while (0)

#define US_ERR(st, ...)   US_LOG(st, US_LOG_ERROR, __VA_ARGS__)
#define US_WARN(st, ...)  US_LOG(st, US_LOG_WARN, __VA_ARGS__)
#define US_INFO(st, ...)  US_LOG(st, US_LOG_INFO, __VA_ARGS__)
#define US_DEBUG(st, ...) US_LOG(st, US_LOG_DEBUG, __VA_ARGS__)
#define US_TRACE(st, ...) US_LOG(st, US_LOG_TRACE, __VA_ARGS__)

#endif
