#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"

typedef struct job {
	struct job *next;
	void (*fn)(void *arg);
	void *arg;
} job;

static struct {
	pthread_mutex_t lock;
	pthread_cond_t  cv;
	pthread_t       thread;
	bool            running;
	bool            stopping;
	job            *head, *tail;
	size_t          pending;
	void (*sweep)(void);
	unsigned sweep_ms;
} W = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
};

static void
deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
writer_main(void *arg)
{
	struct timespec next;

	(void)arg;
	deadline_in(&next, W.sweep_ms);
	pthread_mutex_lock(&W.lock);
	for (;;) {
		while (W.head == NULL && !W.stopping) {
			if (pthread_cond_timedwait(&W.cv, &W.lock, &next) ==
			    ETIMEDOUT) {
				break;
			}
		}
		if (W.head != NULL) {
			job *j = W.head;
			W.head = j->next;
			if (W.head == NULL) {
				W.tail = NULL;
			}
			pthread_mutex_unlock(&W.lock);
			j->fn(j->arg);
			free(j);
			pthread_mutex_lock(&W.lock);
			W.pending--;
			continue;
		}
		if (W.stopping) {
			break;
		}
		/* Idle until the deadline: sweep, then wait again. */
		pthread_mutex_unlock(&W.lock);
		if (W.sweep != NULL) {
			W.sweep();
		}
		deadline_in(&next, W.sweep_ms);
		pthread_mutex_lock(&W.lock);
	}
	pthread_mutex_unlock(&W.lock);
	return (NULL);
}

int
writer_start(void (*sweep)(void), unsigned sweep_ms)
{
	pthread_condattr_t ca;

	if (W.running) {
		return (-1);
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&W.cv, &ca);
	pthread_condattr_destroy(&ca);
	W.sweep    = sweep;
	W.sweep_ms = sweep_ms > 0 ? sweep_ms : 1000;
	W.stopping = false;
	if (pthread_create(&W.thread, NULL, writer_main, NULL) != 0) {
		pthread_cond_destroy(&W.cv);
		return (-1);
	}
	W.running = true;
	return (0);
}

int
writer_submit(void (*fn)(void *arg), void *arg)
{
	job *j;

	if ((j = malloc(sizeof(*j))) == NULL) {
		return (-1);
	}
	j->fn   = fn;
	j->arg  = arg;
	j->next = NULL;
	pthread_mutex_lock(&W.lock);
	if (!W.running || W.stopping) {
		pthread_mutex_unlock(&W.lock);
		free(j);
		return (-1);
	}
	if (W.tail != NULL) {
		W.tail->next = j;
	} else {
		W.head = j;
	}
	W.tail = j;
	W.pending++;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.lock);
	return (0);
}

void
writer_stop(void)
{
	pthread_mutex_lock(&W.lock);
	if (!W.running) {
		pthread_mutex_unlock(&W.lock);
		return;
	}
	W.stopping = true;
	pthread_cond_signal(&W.cv);
	pthread_mutex_unlock(&W.lock);
	pthread_join(W.thread, NULL);
	pthread_mutex_lock(&W.lock);
	W.running = false;
	pthread_mutex_unlock(&W.lock);
	pthread_cond_destroy(&W.cv);
}

size_t
writer_pending(void)
{
	size_t n;
	pthread_mutex_lock(&W.lock);
	n = W.pending;
	pthread_mutex_unlock(&W.lock);
	return (n);
}

/* Reads a varint at *p (below end); false when truncated or too long. */
static bool
varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end) {
			return (false);
		}
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			return (true);
		}
	}
	return (false);
}

bool
writer_wants(const void *req, size_t len)
{
	static const char ingest[] = RPC_METHOD_PREFIX "Ingest";
	const uint8_t    *p = req, *end = p + len;
	bool              write = false;

	while (p < end) {
		uint64_t tag, n;
		if (!varint(&p, end, &tag)) {
			return (false);
		}
		switch (tag & 7) {
		case 0:
			if (!varint(&p, end, &n)) {
				return (false);
			}
			break;
		case 1:
			if (end - p < 8) {
				return (false);
			}
			p += 8;
			break;
		case 2:
			if (!varint(&p, end, &n) || n > (uint64_t)(end - p)) {
				return (false);
			}
			if (tag >> 3 == 1) {
				write = n == sizeof(ingest) - 1 &&
				        memcmp(p, ingest, n) == 0;
			}
			p += n;
			break;
		case 5:
			if (end - p < 4) {
				return (false);
			}
			p += 4;
			break;
		default:
			return (false);
		}
	}
	return (write);
}
