#ifndef OFFSTAT_LOG_H
#define OFFSTAT_LOG_H

/*
 * One line per event on stderr in logfmt: ts=… level=… msg="…" key=value…
 * Callers pass extra key=value pairs already formatted; values that may hold
 * spaces or quotes go through log_quote(). Secrets are never passed here.
 */
typedef enum {
	LOG_DEBUG = 0,
	LOG_INFO  = 1,
	LOG_WARN  = 2,
	LOG_ERROR = 3,
	LOG_OFF   = 4,
} log_level;

void log_set_level(log_level level);
/* Parses "debug", "info", "warn", "error", "off"; -1 when unknown. */
int log_level_parse(const char *s);
/* Writes one event: msg is quoted; fmt (may be NULL) adds key=value pairs. */
void log_event(log_level level, const char *msg, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_event(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_event(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_event(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_event(LOG_ERROR, msg, __VA_ARGS__)

#endif
