#ifndef OFFSTAT_STORE_H
#define OFFSTAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "period.h"
#include "snapshot.h"

/*
 * The durable store: one SQLite database in WAL mode. Writers use the put
 * functions inside store_begin()/store_commit(); readers never query it
 * directly but load a snapshot from it after each commit.
 *
 * Every function returning int returns 0 on success and -1 on failure with
 * a message in err (errlen bytes), unless it says otherwise.
 */
typedef struct store store;

/* Opens (creating when missing) the database at path; ":memory:" works. */
int store_open(store **out, const char *path, char *err, size_t errlen);
/* Closes the database. Accepts NULL. */
void store_close(store *s);
/* True when the database holds no areas yet (a first start). */
bool store_is_empty(store *s);

int store_begin(store *s, char *err, size_t errlen);
int store_commit(store *s, char *err, size_t errlen);
/* Rolls back an open transaction; harmless when none is open. */
void store_rollback(store *s);

typedef struct {
	const char *code;
	const char *name;
	int         kind; /* AREA_* */
	const char *parent;
	const char *aliases; /* ';'-separated */
	const char *members; /* ';'-separated codes, groups only */
	uint64_t    population;
	uint64_t    under18;
	unsigned    population_year;
	const char *population_source;
} store_area;

typedef struct {
	const char *code;
	const char *description;
	const char *group;
	const char *subgroup;
	unsigned    break_year;
	const char *break_note;
	const char *note;
} store_offence;

typedef struct {
	const char *id;
	int         kind; /* SOURCE_* */
	const char *title;
	const char *publisher;
	const char *published;
	const char *url;
	const char *note;
} store_source;

typedef struct {
	const char *area;
	const char *offence;
	period      period;
	const char *source;
	uint64_t    value;
	unsigned    rank;
	unsigned    flags; /* FLAG_* */
	const char *note;
} store_count;

int store_put_area(store *s, const store_area *a, char *err, size_t errlen);
/* Adds an offence; an existing code keeps its catalogue entry. */
int store_put_offence(store *s, const store_offence *o, char *err,
                      size_t errlen);
int store_put_source(store *s, const store_source *src, char *err,
                     size_t errlen);
/*
 * Inserts or updates one figure. *changed is set to 1 when the stored data
 * changed (a new figure, or a different value), 0 when it was already there.
 */
int store_put_count(store *s, const store_count *c, int *changed, char *err,
                    size_t errlen);
int store_put_change(store *s, const char *area, const char *offence,
                     const period *from, const period *to, double percent,
                     const char *source, const char *note, char *err,
                     size_t errlen);
/* Records a release (a load that changed data) inside the transaction. */
int store_add_release(store *s, const char *label, const char *source,
                      uint64_t rows, uint64_t *id, char *err, size_t errlen);

/* Reads the whole committed dataset into a new snapshot (one reference). */
int store_load_snapshot(store *s, snapshot **out, char *err, size_t errlen);
/* Runs SQLite's integrity check; 0 when it reports "ok". */
int store_check(store *s, char *err, size_t errlen);

#endif
