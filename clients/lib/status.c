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
