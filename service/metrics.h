#ifndef OFFSTAT_METRICS_H
#define OFFSTAT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Counters for the Prometheus exposition at /metrics (http.c). The request
 * path only does relaxed atomic adds into a fixed table: one row per method
 * of offstat.v1.OffenceStats plus "other", one column per status code 0-16.
 * Everything else (snapshot, ingest, authentication, memory) is read when a
 * scrape renders the page.
 */

struct auth;

/* Records the start time and the method table; call once before serving. */
void metrics_init(void);
/*
 * Counts one answered request: method as dispatch_info gives it (a name of
 * the service descriptor, or anything else for "other"), code the status
 * sent, ns the time taken. Lock-free; safe from any thread.
 */
void metrics_request(const char *method, int code, uint64_t ns);
/* Where failed authentications are counted; NULL: none reported. */
void metrics_set_auth(struct auth *a);
/* Requests between receive and reply, read at scrape time; fn NULL: the
 * gauge is left out. */
void metrics_set_in_flight(unsigned long long (*fn)(void *), void *arg);
/* Listeners restarted by the listener check, read at scrape time; fn
 * NULL: left out. */
void metrics_set_restarts(unsigned long long (*fn)(void *), void *arg);
/* The NNG listeners are up (true) or going down (false), for /readyz. */
void metrics_set_listening(bool on);
/* Ready: a snapshot is loaded and the listeners are up. */
bool metrics_ready(void);
/*
 * Renders every metric in the Prometheus text format 0.0.4 into a malloc'd
 * buffer the caller frees. Returns NULL when out of memory.
 */
char *metrics_render(size_t *len);

#endif
