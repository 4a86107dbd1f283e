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
/*
 * A larger page cache and no foreign key checks for a large load (on), back
 * to the defaults (off). Call it outside a transaction (SQLite ignores the
 * foreign key setting within one), and only for writes whose references
 * were resolved beforehand.
 */
void store_bulk(store *s, bool on);
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
 * Writes one figure into the open release. *changed is 1 when it adds a
 * version (a new figure, or another value than the latest committed), -1
 * when it takes back this release's own earlier version (the figure is as
 * committed after all), 0 otherwise.
 */
int store_put_count(store *s, const store_count *c, int *changed, char *err,
                    size_t errlen);
/*
 * Whether any version of any figure of area and offence is stored, in any
 * release, open ones included. Returns 0 or -1.
 */
int store_counts_any(store *s, const char *area, const char *offence,
                     bool *any, char *err, size_t errlen);
/*
 * store_put_count() of a figure that has no stored version at all (as
 * store_counts_any() found, and not written since): adds it without
 * reading the versions first. *changed is 1. A bulk load's shortcut.
 */
int store_put_new_count(store *s, const store_count *c, int *changed,
                        char *err, size_t errlen);
int store_put_change(store *s, const char *area, const char *offence,
                     const period *from, const period *to, double percent,
                     const char *source, const char *note, char *err,
                     size_t errlen);
/*
 * Releases. Every load is a release: opened (invisible to readers), filled
 * with store_put_count() (at most one version of a figure per release),
 * then committed, when its versions become the newest, or dropped. Each
 * call runs inside the caller's transaction.
 */
enum {
	RELEASE_OPEN      = 1,
	RELEASE_COMMITTED = 2,
	RELEASE_ABORTED   = 3,
	RELEASE_EXPIRED   = 4,
};

typedef struct {
	uint64_t id;
	int      state; /* RELEASE_* */
	uint64_t rows;
	uint64_t changed;
	uint64_t seq;
	char     source[64];
	int64_t  touched; /* last write, seconds since 1970 */
} store_release;

typedef struct {
	uint64_t    id;
	const char *label;
	const char *source;
	int         state;
	const char *opened_at;
	const char *committed_at;
	const char *loaded_by;
	uint64_t    rows;
	uint64_t    changed;
	uint64_t    seq;
	int64_t     touched;
} store_release_row;

/* Opens a release (by: the writer's token id, or NULL for "local") and
 * makes it the one puts write to. */
int store_release_open(store *s, const char *label, const char *source,
                       const char *by, uint64_t *id, char *err, size_t errlen);
/* Makes open release id the one puts write to. */
int store_release_use(store *s, uint64_t id, char *err, size_t errlen);
/* Reads one release; 1 (with err) when there is none. */
int store_release_get(store *s, uint64_t id, store_release *r, char *err,
                      size_t errlen);
/* Adds rows received and figures changed (may be negative) to its totals. */
int store_release_add(store *s, uint64_t id, uint64_t rows, int64_t changed,
                      char *err, size_t errlen);
/* Commits open release id, giving it the next commit sequence (*seq);
 * 1 (with err) when it is not open. */
int store_release_commit(store *s, uint64_t id, uint64_t *seq, char *err,
                         size_t errlen);
/* Drops open release id and its rows, as RELEASE_ABORTED or
 * RELEASE_EXPIRED; 1 (with err) when it is not open. */
int store_release_drop(store *s, uint64_t id, int state, char *err,
                       size_t errlen);
/* Calls fn for every release in id order until it returns non-zero. */
int store_releases(store *s, int (*fn)(void *arg, const store_release_row *r),
                   void *arg, char *err, size_t errlen);

/* Idempotency keys of writes: the reply first given to writer's key, and
 * a hash of the request it answered; 1 when the key is unknown. */
int store_key_get(store *s, const char *writer, const char *key,
                  uint64_t *hash, void **reply, size_t *len, char *err,
                  size_t errlen);
int store_key_put(store *s, const char *writer, const char *key, uint64_t hash,
                  const void *reply, size_t len, char *err, size_t errlen);
/* Forgets keys recorded before older_than (seconds since 1970). */
int store_keys_expire(store *s, int64_t older_than, char *err, size_t errlen);

/* Reads the whole committed dataset into a new snapshot (one reference). */
int store_load_snapshot(store *s, snapshot **out, char *err, size_t errlen);
/* Runs SQLite's integrity check; 0 when it reports "ok". */
int store_check(store *s, char *err, size_t errlen);

#endif
