#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static char *
dup_str(const char *s)
{
	size_t len = strlen(s);
	char  *p   = malloc(len + 1);

	if (p != NULL) {
		memcpy(p, s, len + 1);
	}
	return (p);
}

void
offstat_status_clear(offstat_status *st)
{
	if (st == NULL) {
		return;
	}
	free(st->message);
	for (size_t i = 0; i < st->n_details; i++) {
		free(st->details[i]);
	}
	free(st->details);
	free(st->request_id);
	memset(st, 0, sizeof(*st));
}

void
offstat__status_reset(offstat_status *st)
{
	offstat_status_clear(st);
}

int
offstat__status_local(offstat_status *st, int err, const char *fmt, ...)
{
	va_list ap;
	int     n;

	if (st == NULL) {
		return (err);
	}
	st->err  = err;
	st->code = 0;
	free(st->message);
	st->message = NULL;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0 && (st->message = malloc((size_t)n + 1)) != NULL) {
		va_start(ap, fmt);
		vsnprintf(st->message, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	return (err);
}

int
offstat__status_server(offstat_status *st, int err,
                       const Offstat__V1__RpcStatus *s)
{
	if (st == NULL) {
		return (err);
	}
	st->err  = err;
	st->code = (int)s->code;
	free(st->message);
	st->message = dup_str(s->message[0] != '\0' ? s->message
	                                            : offstat_strerror(err));
	if (s->n_details > 0 &&
	    (st->details = calloc(s->n_details, sizeof(char *))) != NULL) {
		for (size_t i = 0; i < s->n_details; i++) {
			if ((st->details[i] = dup_str(s->details[i])) ==
			    NULL) {
				break;
			}
			st->n_details = i + 1;
		}
	}
	return (err);
}

void
offstat__status_request_id(offstat_status *st, const char *id)
{
	if (st == NULL) {
		return;
	}
	free(st->request_id);
	st->request_id = dup_str(id);
}

/* A new string of fmt's output, or NULL when memory runs out. */
static char *
vformat(const char *fmt, va_list ap)
{
	va_list ap2;
	char   *p;
	int     n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (p = malloc((size_t)n + 1)) == NULL) {
		return (NULL);
	}
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return (p);
}

void
offstat__status_detail(offstat_status *st, const char *fmt, ...)
{
	va_list ap;
	char  **v;
	char   *line;

	if (st == NULL) {
		return;
	}
	va_start(ap, fmt);
	line = vformat(fmt, ap);
	va_end(ap);
	if (line == NULL) {
		return;
	}
	if ((v = realloc(st->details, (st->n_details + 1) * sizeof(*v))) ==
	    NULL) {
		free(line);
		return;
	}
	st->details                  = v;
	st->details[st->n_details++] = line;
}

void
offstat__status_clear_details(offstat_status *st)
{
	if (st == NULL) {
		return;
	}
	for (size_t i = 0; i < st->n_details; i++) {
		free(st->details[i]);
	}
	free(st->details);
	st->details   = NULL;
	st->n_details = 0;
}

void
offstat__status_append(offstat_status *st, const char *fmt, ...)
{
	va_list ap;
	char   *more;
	char   *p;
	size_t  n;

	if (st == NULL || st->message == NULL) {
		return;
	}
	va_start(ap, fmt);
	more = vformat(fmt, ap);
	va_end(ap);
	if (more == NULL) {
		return;
	}
	n = strlen(st->message);
	if ((p = realloc(st->message, n + strlen(more) + 1)) != NULL) {
		memcpy(p + n, more, strlen(more) + 1);
		st->message = p;
	}
	free(more);
}
