#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level         level_now = LOG_INFO;
static const char *const names[]   = {"debug", "info", "warn", "error", "off"};

void
log_set_level(log_level level)
{
	level_now = level;
}

int
log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_OFF; i++) {
		if (strcmp(s, names[i]) == 0) {
			return (i);
		}
	}
	return (-1);
}

void
log_event(log_level level, const char *msg, const char *fmt, ...)
{
	char            line[2048];
	size_t          n = 0;
	struct timespec ts;
	struct tm       tm;

	if (level < level_now || level >= LOG_OFF) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n += strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n,
	                      ".%03ldZ level=%s msg=\"", ts.tv_nsec / 1000000L,
	                      names[level]);
	/* Quotes and control characters in msg would break the line format. */
	for (const char *p = msg; *p != '\0' && n < sizeof(line) - 8; p++) {
		if (*p == '"' || *p == '\\') {
			line[n++] = '\\';
			line[n++] = *p;
		} else if ((unsigned char)*p < 0x20) {
			line[n++] = ' ';
		} else {
			line[n++] = *p;
		}
	}
	line[n++] = '"';
	line[n]   = '\0';
	if (fmt != NULL && n < sizeof(line) - 2) {
		va_list ap;
		line[n++] = ' ';
		va_start(ap, fmt);
		int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (m > 0) {
			n += (size_t)m < sizeof(line) - n
			             ? (size_t)m
			             : sizeof(line) - n - 1;
		}
	}
	/* One write per line keeps lines whole when threads log at once. */
	fprintf(stderr, "%s\n", line);
}
