#ifndef OFFSTAT_SNAPSHOT_H
#define OFFSTAT_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "period.h"

/*
 * An immutable in-memory copy of one committed release of the dataset.
 * Requests read from a snapshot they hold a reference to, so a load that
 * commits meanwhile never changes what a reply sees: it swaps in a new
 * snapshot and the old one is freed when its last reader lets go.
 */

/* Area kinds, numbered as the wire's AreaKind. */
enum {
	AREA_FORCE   = 1,
	AREA_REGION  = 2,
	AREA_COUNTRY = 3,
	AREA_GROUP   = 4,
	AREA_NATION  = 5,
	AREA_BODY    = 6,
};

/* Value flags as bits, numbered as the wire's Flag. */
enum {
	FLAG_PROVISIONAL  = 1u << 1,
	FLAG_REVISED      = 1u << 2,
	FLAG_SERIES_BREAK = 1u << 3,
	FLAG_ESTIMATED    = 1u << 4,
	FLAG_SMALL_NUMBER = 1u << 5,
	FLAG_INCOMPLETE   = 1u << 6,
	FLAG_CONFLICT     = 1u << 7,
};
#define FLAG_FIRST 1
#define FLAG_LAST  7

/* Source kinds, numbered as the wire's SourceKind. */
enum {
	SOURCE_OPEN_DATA = 1,
	SOURCE_FOI       = 2,
	SOURCE_PRESS     = 3,
	SOURCE_REFERENCE = 4,
};

typedef struct {
	const char  *code;
	const char  *name;
	int          kind;
	int          parent; /* index, or -1 */
	const char **aliases;
	size_t       naliases;
	/* For aggregates, the leaf areas it sums (forces, or countries with no
	 * forces of their own); empty for leaves. */
	int        *members;
	size_t      nmembers;
	uint64_t    population;
	uint64_t    under18;
	const char *population_source;
	int         region;  /* index, or -1 */
	int         country; /* index, or -1 */
	bool        has_children;
} snap_area;

typedef struct {
	const char *code;
	const char *description;
	const char *group;
	const char *subgroup;
	const char *note;
	unsigned    break_year; /* first year of a new definition; 0: none */
	const char *break_note;
	unsigned    min_year; /* range of years holding data; 0 when none */
	unsigned    max_year;
} snap_offence;

typedef struct {
	const char *id;
	int         kind;
	const char *title;
	const char *publisher;
	const char *published;
	const char *url;
	const char *note;
} snap_source;

/* An older version of a figure, as an earlier release left it. */
typedef struct {
	uint64_t    value;
	uint32_t    release;
	uint32_t    seq; /* commit order of that release */
	uint16_t    rank;
	uint16_t    flags;
	const char *note;
} snap_version;

/*
 * A figure from one source: its newest committed version, with the older
 * ones (newest first) as history. REVISED is set when an older version's
 * value differs.
 */
typedef struct {
	uint64_t            value;
	uint32_t            source;
	uint16_t            rank; /* 0 is preferred */
	uint16_t            flags;
	const char         *note;
	uint32_t            release; /* the release that set this version */
	uint32_t            seq;     /* its commit order */
	uint32_t            nhist;
	const snap_version *hist;
} snap_entry;

/* A committed release. */
typedef struct {
	uint64_t    id;
	uint32_t    seq; /* commit order, from 1 */
	const char *label;
	const char *committed_at;
	const char *source;
} snap_release;

typedef struct {
	uint64_t key;
	uint32_t first; /* into entries[] */
	uint32_t n;
} snap_cell;

typedef struct {
	uint32_t    area;
	uint32_t    offence;
	period      from;
	period      to;
	double      percent;
	uint32_t    source;
	const char *note;
} snap_change;

typedef struct {
	const char *key; /* normalised name */
	int         index;
} snap_name;

/*
 * The figure of an area, offence and year or quarter over every source as
 * the newest release has it, worked out once per snapshot: what query.c's
 * direct() finds (a stored cell, or a year summed from its quarters), so
 * that a sum over an aggregate's members or a series of years reads one
 * slot per figure instead of probing the cell hash up to five times.
 */
enum {
	SNAP_DIRECT_NONE,     /* no figure */
	SNAP_DIRECT_STORED,   /* a cell: read it for its note and others */
	SNAP_DIRECT_QUARTERS, /* a year summed from the quarters in have */
};

typedef struct {
	uint64_t count;
	int32_t  source; /* of the best entry; for sums -1 when several */
	uint16_t flags;  /* as direct() gives them (CONFLICT included) */
	uint8_t  kind;   /* SNAP_DIRECT_* */
	uint8_t  have;   /* QUARTERS: bit i, quarter i + 1 was summed */
} snap_direct;

/* Slots for data that other modules derive from a snapshot. */
enum {
	SNAP_SLOT_REPLIES,  /* dispatch's reply cache */
	SNAP_SLOT_AREAS,    /* query.c's packed Area messages */
	SNAP_SLOT_OFFENCES, /* ... Offence messages */
	SNAP_SLOT_SOURCES,  /* ... Source messages */
	SNAP_NSLOTS
};

typedef struct snapshot {
	atomic_int    refs;
	/* Made on first use by snapshot_slot(), freed with the snapshot. */
	_Atomic(void *) slots[SNAP_NSLOTS];
	void (*slot_free[SNAP_NSLOTS])(void *);
	arena         mem; /* every string and array below */
	uint64_t      release; /* the newest committed release */
	uint32_t      seq;     /* its commit order */
	const char   *release_label;
	const char   *loaded_at;
	snap_release *releases; /* committed, in commit order */
	size_t        nreleases;
	snap_area    *areas; /* sorted by code */
	size_t        nareas;
	snap_offence *offences; /* sorted by code */
	size_t        noffences;
	snap_source  *sources; /* sorted by id */
	size_t        nsources;
	snap_entry   *entries; /* grouped by cell, best first */
	size_t        nentries;
	snap_cell    *cells; /* open addressing, power-of-two size */
	size_t        cellcap;
	size_t        ncells;
	snap_change  *changes;
	size_t        nchanges;
	snap_name    *area_names; /* sorted by key */
	size_t        narea_names;
	/* snapshot_direct()'s table: per area and offence with any cell,
	 * 1 + its row in direct_row[area * noffences + offence] (0: none);
	 * a row is dyears years of five slots: the year, quarters 1 to 4. */
	uint32_t    *direct_row;
	snap_direct *direct;
	unsigned     dyear0;
	unsigned     dyears;
} snapshot;

/* A fresh, empty snapshot with one reference, or NULL (out of memory). */
snapshot *snapshot_new(void);
/*
 * Builds the indexes once the arrays are filled: area hierarchy, members,
 * names, the cell hash and offence year ranges. entries[] must be grouped by
 * cell with the best entry first; cell_keys[i] is entry i's cell key.
 * Returns 0, or -1 (out of memory, or a parent cycle: err says which).
 */
int       snapshot_index(snapshot *s, const uint64_t *cell_keys, char *err,
                         size_t errlen);
snapshot *snapshot_ref(snapshot *s);
/* Drops a reference; frees on the last. Accepts NULL. */
void snapshot_unref(snapshot *s);

/*
 * The data in slot of s, made with make(arg) by the first caller. Callers
 * that race each make one; one is kept and the others freed with destroy,
 * which also frees the kept one when the snapshot goes. Thread-safe.
 * Returns NULL when make does.
 */
void *snapshot_slot(snapshot *s, int slot, void *(*make)(void *arg),
                    void (*destroy)(void *data), void *arg);

/* The cell key of an area, offence and period. */
uint64_t snapshot_key(uint32_t area, uint32_t offence, const period *p);
/* Entries for one cell, best first; *n is 0 when there are none. */
const snap_entry *snapshot_cell(const snapshot *s, uint32_t area,
                                uint32_t offence, const period *p, size_t *n);
/*
 * The same as it stood once the release of commit sequence as_of was
 * committed (0: the latest): the versions of each entry current then,
 * built in mem when they differ from the latest.
 */
const snap_entry *snapshot_cell_as_of(const snapshot *s, uint32_t area,
                                      uint32_t offence, const period *p,
                                      uint64_t as_of, arena *mem, size_t *n);

/*
 * The figure direct() finds for a year or quarter over every source, as
 * the newest release has it. NULL for other periods and years outside the
 * data: the caller works those out from the cells.
 */
static inline const snap_direct *
snapshot_direct(const snapshot *s, uint32_t area, uint32_t offence,
                const period *p)
{
	static const snap_direct none = {.source = -1};
	uint32_t                 row;
	unsigned                 y = (unsigned)p->year - s->dyear0;

	if ((p->kind != PERIOD_YEAR && p->kind != PERIOD_QUARTER) ||
	    p->year < s->dyear0 || y >= s->dyears || p->quarter > 4) {
		return (NULL);
	}
	if ((row = s->direct_row[(size_t)area * s->noffences + offence]) ==
	    0) {
		return (&none);
	}
	return (&s->direct[((size_t)(row - 1) * s->dyears + y) * 5 +
	                   (p->kind == PERIOD_YEAR ? 0 : p->quarter)]);
}

/* The committed release with this id, or NULL. */
const snap_release *snapshot_release(const snapshot *s, uint64_t id);

/* Index of the area with this code, -1 when none (exact match). */
int snapshot_area_by_code(const snapshot *s, const char *code);
int snapshot_offence_by_code(const snapshot *s, const char *code);
int snapshot_source_by_id(const snapshot *s, const char *id);
/*
 * Resolves an area by code or by name/alias, ignoring case, "&"/"and" and
 * runs of spaces. Returns the index or -1.
 */
int snapshot_find_area(const snapshot *s, const char *name);
/*
 * Resolves an offence by code (exact, then ignoring case, then ignoring
 * punctuation when that is unambiguous), then by description (exact
 * ignoring case, then a unique substring). Returns the index, -1 when
 * nothing matches, -2 when several do (*cands gets up to ncands of them).
 */
int snapshot_find_offence(const snapshot *s, const char *name, int *cands,
                          size_t ncands, size_t *nfound);
/* True when area a sums into (or is) area b. */
bool snapshot_area_within(const snapshot *s, int a, int b);

/* The snapshot requests are served from; a reference the caller drops. */
snapshot *snapshot_current(void);
/* Makes s current (taking over the caller's reference). */
void snapshot_publish(snapshot *s);
/* Drops the current snapshot, at shutdown. */
void snapshot_clear(void);

/* Spreads the bits of a 64-bit key for hash tables (splitmix64's
 * finaliser). */
uint64_t snapshot_mix(uint64_t x);

#endif
