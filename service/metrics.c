#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "dispatch.h"
#include "ingest.h"
#include "snapshot.h"

/* The service has fewer methods; more would share the "other" row. */
#define MAX_METHODS 64
#define NCODES      17

/* Upper bounds of the latency buckets in seconds, and in ns for the
 * request path: 50us to 5s. */
static const double bucket_s[] = {
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
        0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
#define NBUCKETS (sizeof(bucket_s) / sizeof(bucket_s[0]))
static uint64_t bucket_ns[NBUCKETS];

typedef struct {
	atomic_ullong codes[NCODES + 1];     /* the last: codes out of range */
	atomic_ullong buckets[NBUCKETS + 1]; /* not cumulative; +Inf last */
	atomic_ullong sum_ns;
} method_row;

static const char  *method_names[MAX_METHODS + 1];
static size_t       nmethods;
static method_row   rows[MAX_METHODS + 1];
static double       start_time;
static struct auth *auth_db;
/* The server's gauges, set as it starts and stops while scrapes may run:
 * read and called under the lock. */
static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long (*in_flight_fn)(void *);
static void *in_flight_arg;
static unsigned long long (*restarts_fn)(void *);
static void       *restarts_arg;
static atomic_bool listening;

void
metrics_init(void)
{
	struct timespec                   ts;
	const ProtobufCServiceDescriptor *d = offstat__service.base.descriptor;

	clock_gettime(CLOCK_REALTIME, &ts);
	start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	for (size_t i = 0; i < NBUCKETS; i++) {
		bucket_ns[i] = (uint64_t)(bucket_s[i] * 1e9 + 0.5);
	}
	nmethods = d->n_methods < MAX_METHODS ? d->n_methods : MAX_METHODS;
	for (size_t i = 0; i < nmethods; i++) {
		method_names[i] = d->methods[i].name;
	}
	method_names[nmethods] = "other";
}

static size_t
method_index(const char *method)
{
	if (method == NULL) {
		return (nmethods);
	}
	/* dispatch hands over the descriptor's own string: try pointers
	 * first, names only when that fails. */
	for (size_t i = 0; i < nmethods; i++) {
		if (method_names[i] == method) {
			return (i);
		}
	}
	for (size_t i = 0; i < nmethods; i++) {
		if (strcmp(method_names[i], method) == 0) {
			return (i);
		}
	}
	return (nmethods);
}

void
metrics_request(const char *method, int code, uint64_t ns)
{
	method_row *r = &rows[method_index(method)];
	size_t      b = 0;

	if (code < 0 || code >= NCODES) {
		code = NCODES;
	}
	while (b < NBUCKETS && ns > bucket_ns[b]) {
		b++;
	}
	atomic_fetch_add_explicit(&r->codes[code], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&r->sum_ns, ns, memory_order_relaxed);
}

void
metrics_set_auth(struct auth *a)
{
	auth_db = a;
}

void
metrics_set_restarts(unsigned long long (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&hooks_lock);
	restarts_arg = arg;
	restarts_fn  = fn;
	pthread_mutex_unlock(&hooks_lock);
}

void
metrics_set_in_flight(unsigned long long (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&hooks_lock);
	in_flight_arg = arg;
	in_flight_fn  = fn;
	pthread_mutex_unlock(&hooks_lock);
}

void
metrics_set_listening(bool on)
{
	atomic_store(&listening, on);
}

bool
metrics_ready(void)
{
	snapshot *s  = snapshot_current();
	bool      ok = s != NULL && atomic_load(&listening);

	snapshot_unref(s);
	return (ok);
}

typedef struct {
	char  *p;
	size_t len;
	size_t cap;
	bool   oom;
} buf;

static void put(buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
put(buf *b, const char *fmt, ...)
{
	va_list ap;
	int     n;

	if (b->oom) {
		return;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char  *p   = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p   = p;
		b->cap = cap;
	}
}

static void
head(buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
render_requests(buf *b)
{
	head(b, "offstat_requests_total", "counter",
	     "Requests answered, by method and status code.");
	for (size_t m = 0; m <= nmethods; m++) {
		for (int c = 0; c <= NCODES; c++) {
			unsigned long long v = atomic_load_explicit(
			        &rows[m].codes[c], memory_order_relaxed);
			if (v == 0) {
				continue;
			}
			put(b,
			    "offstat_requests_total{method=\"%s\",code=\"%s\"}"
			    " "
			    "%llu\n",
			    method_names[m],
			    c < NCODES ? dispatch_code_name(c) : "other", v);
		}
	}
	head(b, "offstat_request_duration_seconds", "histogram",
	     "Time to answer a request, by method.");
	for (size_t m = 0; m <= nmethods; m++) {
		unsigned long long cum = 0;
		unsigned long long counts[NBUCKETS + 1];
		for (size_t i = 0; i <= NBUCKETS; i++) {
			counts[i] = atomic_load_explicit(&rows[m].buckets[i],
			                                 memory_order_relaxed);
			cum += counts[i];
		}
		if (cum == 0) {
			continue;
		}
		cum = 0;
		for (size_t i = 0; i < NBUCKETS; i++) {
			cum += counts[i];
			put(b,
			    "offstat_request_duration_seconds_bucket{method="
			    "\"%s\",le=\"%g\"} %llu\n",
			    method_names[m], bucket_s[i], cum);
		}
		cum += counts[NBUCKETS];
		put(b,
		    "offstat_request_duration_seconds_bucket{method=\"%s\","
		    "le=\"+Inf\"} %llu\n",
		    method_names[m], cum);
		put(b,
		    "offstat_request_duration_seconds_sum{method=\"%s\"} "
		    "%.9f\n",
		    method_names[m],
		    (double)atomic_load_explicit(&rows[m].sum_ns,
		                                 memory_order_relaxed) /
		            1e9);
		put(b,
		    "offstat_request_duration_seconds_count{method=\"%s\"} "
		    "%llu\n",
		    method_names[m], cum);
	}
	pthread_mutex_lock(&hooks_lock);
	if (in_flight_fn != NULL) {
		head(b, "offstat_requests_in_flight", "gauge",
		     "Requests received and not yet answered.");
		put(b, "offstat_requests_in_flight %llu\n",
		    in_flight_fn(in_flight_arg));
	}
	if (restarts_fn != NULL) {
		head(b, "offstat_listener_restarts_total", "counter",
		     "Listeners started again after they stopped serving new "
		     "connections.");
		put(b, "offstat_listener_restarts_total %llu\n",
		    restarts_fn(restarts_arg));
	}
	pthread_mutex_unlock(&hooks_lock);
}

static void
render_state(buf *b)
{
	snapshot     *s = snapshot_current();
	ingest_totals t;

	if (s != NULL) {
		head(b, "offstat_snapshot_release", "gauge",
		     "Id of the newest committed release being served.");
		put(b, "offstat_snapshot_release %llu\n",
		    (unsigned long long)s->release);
		head(b, "offstat_snapshot_counts", "gauge",
		     "Figures (area, offence, period, source) in the snapshot "
		     "being served.");
		put(b, "offstat_snapshot_counts %zu\n", s->nentries);
		head(b, "offstat_snapshot_areas", "gauge",
		     "Areas in the snapshot being served.");
		put(b, "offstat_snapshot_areas %zu\n", s->nareas);
		head(b, "offstat_snapshot_offences", "gauge",
		     "Offences in the snapshot being served.");
		put(b, "offstat_snapshot_offences %zu\n", s->noffences);
		snapshot_unref(s);
	}
	head(b, "offstat_ready", "gauge",
	     "1 when a snapshot is loaded and the listeners are up.");
	put(b, "offstat_ready %d\n", metrics_ready() ? 1 : 0);

	ingest_get_totals(&t);
	static const struct {
		const char *name;
		const char *help;
		size_t      off;
	} ing[] = {
	        {"batches", "Ingest batches written.",
	         offsetof(ingest_totals, batches)},
	        {"rows", "Rows written by ingest batches.",
	         offsetof(ingest_totals, rows)},
	        {"commits", "Releases committed over the wire.",
	         offsetof(ingest_totals, commits)},
	        {"aborts", "Releases aborted over the wire.",
	         offsetof(ingest_totals, aborts)},
	        {"expired", "Open releases rolled back after going idle.",
	         offsetof(ingest_totals, expired)},
	        {"replays", "Writes answered again from an idempotency key.",
	         offsetof(ingest_totals, replays)},
	        {"rejected", "Ingest batches refused for bad rows.",
	         offsetof(ingest_totals, rejected)},
	};
	for (size_t i = 0; i < sizeof(ing) / sizeof(ing[0]); i++) {
		uint64_t v;
		char     name[64];
		memcpy(&v, (const char *)&t + ing[i].off, sizeof(v));
		snprintf(name, sizeof(name), "offstat_ingest_%s_total",
		         ing[i].name);
		head(b, name, "counter", ing[i].help);
		put(b, "%s %llu\n", name, (unsigned long long)v);
	}
	head(b, "offstat_auth_failures_total", "counter",
	     "Calls refused for a malformed, unknown, revoked or expired "
	     "token.");
	put(b, "offstat_auth_failures_total %llu\n",
	    auth_db != NULL ? auth_failures(auth_db) : 0ULL);
}

static void
render_process(buf *b)
{
	FILE         *f;
	unsigned long size, resident;

	head(b, "process_start_time_seconds", "gauge",
	     "Start time of the process since the Unix epoch in seconds.");
	put(b, "process_start_time_seconds %.3f\n", start_time);
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%lu %lu", &size, &resident) == 2) {
			long page = sysconf(_SC_PAGESIZE);
			head(b, "process_resident_memory_bytes", "gauge",
			     "Resident memory size in bytes.");
			put(b, "process_resident_memory_bytes %llu\n",
			    (unsigned long long)resident *
			            (unsigned long long)page);
			head(b, "process_virtual_memory_bytes", "gauge",
			     "Virtual memory size in bytes.");
			put(b, "process_virtual_memory_bytes %llu\n",
			    (unsigned long long)size *
			            (unsigned long long)page);
		}
		fclose(f);
	}
}

char *
metrics_render(size_t *len)
{
	buf b = {.cap = 8192};

	if ((b.p = malloc(b.cap)) == NULL) {
		return (NULL);
	}
	b.p[0] = '\0';
	render_requests(&b);
	render_state(&b);
	render_process(&b);
	if (b.oom) {
		free(b.p);
		return (NULL);
	}
	*len = b.len;
	return (b.p);
}
