#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum {
	ST_AREA,
	ST_POPULATION,
	ST_OFFENCE,
	ST_SOURCE,
	ST_COUNT_GET,
	ST_COUNT_INSERT,
	ST_COUNT_UPDATE,
	ST_COUNT_DELETE,
	ST_COUNT_ANY,
	ST_CHANGE,
	ST_RELEASE_OPEN,
	ST_RELEASE_ADD,
	ST_NSTMT,
};

static const char *const stmt_sql[ST_NSTMT] = {
        [ST_AREA] = "INSERT INTO areas(code, name, kind, parent, aliases, "
                    "members) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                    "ON CONFLICT(code) DO UPDATE SET name = ?2, kind = ?3, "
                    "parent = ?4, aliases = ?5, members = ?6",
        [ST_POPULATION] =
                "INSERT OR REPLACE INTO populations(area, year, "
                "total, under18, source) VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_OFFENCE] = "INSERT OR IGNORE INTO offences(code, description, "
                       "grp, subgroup, break_year, break_note, note, "
                       "release) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        [ST_SOURCE]  = "INSERT OR REPLACE INTO sources(id, kind, title, "
                       "publisher, published, url, note) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        /* Every version of one figure, one per release. */
        [ST_COUNT_GET]    = "SELECT release, value, rank, flags, note FROM "
                            "counts WHERE area = ?1 AND offence = ?2 AND "
                            "year = ?3 AND quarter = ?4 AND kind = ?5 AND "
                            "source = ?6",
        [ST_COUNT_INSERT] = "INSERT INTO counts(area, offence, year, quarter, "
                            "kind, source, release, value, rank, flags, "
                            "note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                            "?9, ?10, ?11)",
        [ST_COUNT_UPDATE] = "UPDATE counts SET value = ?8, rank = ?9, "
                            "flags = ?10, note = ?11 WHERE area = ?1 AND "
                            "offence = ?2 AND year = ?3 AND quarter = ?4 AND "
                            "kind = ?5 AND source = ?6 AND release = ?7",
        [ST_COUNT_DELETE] = "DELETE FROM counts WHERE area = ?1 AND "
                            "offence = ?2 AND year = ?3 AND quarter = ?4 AND "
                            "kind = ?5 AND source = ?6 AND release = ?7",
        /* Whether an area and offence have any figure at all: a seek
         * on the first two columns of the key. */
        [ST_COUNT_ANY] = "SELECT 1 FROM counts WHERE area = ?1 AND "
                         "offence = ?2 LIMIT 1",
        [ST_CHANGE]    = "INSERT OR REPLACE INTO changes(area, offence, "
                         "from_year, from_quarter, from_kind, to_year, "
                         "to_quarter, to_kind, percent, source, note) VALUES "
                         "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        [ST_RELEASE_OPEN] =
                "INSERT INTO releases(label, source, state, opened_at, "
                "loaded_by, touched) VALUES (?1, ?2, 1, "
                "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?3, "
                "CAST(strftime('%s', 'now') AS INTEGER))",
        [ST_RELEASE_ADD] = "UPDATE releases SET rows = rows + ?2, "
                           "changed = max(0, changed + ?3), "
                           "touched = CAST(strftime('%s', 'now') AS INTEGER) "
                           "WHERE id = ?1 AND state = 1",
};

struct store {
	sqlite3      *db;
	sqlite3_stmt *stmt[ST_NSTMT];
	bool          in_tx;
	/* The open release puts write to (0: none), and the commit
	 * sequence of every committed release, indexed by id (0: not
	 * committed), read when a release is opened or used. */
	uint64_t  cur;
	uint32_t *seq_of;
	size_t    nseq_of;
};

/*
 * Version 2 of the schema; user_version records it. Every figure is kept
 * once per release that set it (counts.release), so each release's data
 * can be read as it stood; a release's rows are visible only once it is
 * committed (releases.state 2), in commit order (releases.seq).
 */
static const char schema[] =
        "CREATE TABLE IF NOT EXISTS areas ("
        " code TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 6),"
        " parent TEXT, aliases TEXT NOT NULL DEFAULT '',"
        " members TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE IF NOT EXISTS populations ("
        " area TEXT NOT NULL REFERENCES areas(code),"
        " year INTEGER NOT NULL, total INTEGER NOT NULL CHECK (total >= 0),"
        " under18 INTEGER NOT NULL CHECK (under18 >= 0),"
        " source TEXT NOT NULL, PRIMARY KEY (area, year));"
        "CREATE TABLE IF NOT EXISTS offences ("
        " code TEXT PRIMARY KEY, description TEXT NOT NULL,"
        " grp TEXT NOT NULL, subgroup TEXT NOT NULL,"
        " break_year INTEGER NOT NULL DEFAULT 0,"
        " break_note TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '',"
        " release INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS sources ("
        " id TEXT PRIMARY KEY, kind INTEGER NOT NULL, title TEXT NOT NULL,"
        " publisher TEXT NOT NULL DEFAULT '', published TEXT NOT NULL "
        " DEFAULT '', url TEXT NOT NULL DEFAULT '',"
        " note TEXT NOT NULL DEFAULT '');"
        "CREATE TABLE IF NOT EXISTS counts ("
        " area TEXT NOT NULL REFERENCES areas(code),"
        " offence TEXT NOT NULL REFERENCES offences(code),"
        " year INTEGER NOT NULL, quarter INTEGER NOT NULL,"
        " kind INTEGER NOT NULL, source TEXT NOT NULL REFERENCES sources(id),"
        " release INTEGER NOT NULL,"
        " value INTEGER NOT NULL CHECK (value >= 0),"
        " rank INTEGER NOT NULL DEFAULT 0, flags INTEGER NOT NULL DEFAULT 0,"
        " note TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (area, offence, year, quarter, kind, source, release)"
        ") WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS changes ("
        " area TEXT NOT NULL REFERENCES areas(code),"
        " offence TEXT NOT NULL REFERENCES offences(code),"
        " from_year INTEGER NOT NULL, from_quarter INTEGER NOT NULL,"
        " from_kind INTEGER NOT NULL, to_year INTEGER NOT NULL,"
        " to_quarter INTEGER NOT NULL, to_kind INTEGER NOT NULL,"
        " percent REAL NOT NULL, source TEXT NOT NULL REFERENCES sources(id),"
        " note TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (area, offence, from_year, from_quarter, from_kind,"
        " to_year, to_quarter, to_kind, source));"
        "CREATE TABLE IF NOT EXISTS releases ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 4),"
        " opened_at TEXT NOT NULL, committed_at TEXT NOT NULL DEFAULT '',"
        " loaded_by TEXT NOT NULL DEFAULT 'local',"
        " rows INTEGER NOT NULL DEFAULT 0, changed INTEGER NOT NULL DEFAULT 0,"
        " seq INTEGER NOT NULL DEFAULT 0, touched INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS ingest_keys ("
        " writer TEXT NOT NULL, key TEXT NOT NULL, hash INTEGER NOT NULL,"
        " reply BLOB NOT NULL, created INTEGER NOT NULL,"
        " PRIMARY KEY (writer, key)) WITHOUT ROWID;"
        "PRAGMA user_version = 2;";

/*
 * From version 1 (one figure per cell and source, releases as a log): each
 * figure becomes a version of the latest release, and every logged release
 * a committed one in id order.
 */
static const char migrate_v1[] =
        "ALTER TABLE releases RENAME TO releases_v1;"
        "ALTER TABLE counts RENAME TO counts_v1;"
        "ALTER TABLE offences ADD COLUMN release INTEGER NOT NULL DEFAULT 0;";
static const char migrate_v1_copy[] =
        "INSERT INTO releases(id, label, source, state, opened_at,"
        " committed_at, loaded_by, rows, changed, seq)"
        " SELECT id, label, source, 2, loaded_at, loaded_at, 'local', rows,"
        " rows, id FROM releases_v1 ORDER BY id;"
        "INSERT INTO releases(label, source, state, opened_at, committed_at,"
        " seq) SELECT 'before releases were kept', 'bundled', 2,"
        " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),"
        " strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 1"
        " WHERE NOT EXISTS (SELECT 1 FROM releases);"
        "INSERT INTO counts SELECT area, offence, year, quarter, kind, source,"
        " (SELECT max(id) FROM releases), value, rank, flags, note"
        " FROM counts_v1;"
        "DROP TABLE counts_v1; DROP TABLE releases_v1;";

static int
fail(char *err, size_t errlen, sqlite3 *db, const char *what)
{
	snprintf(err, errlen, "%s: %s", what,
	         db != NULL ? sqlite3_errmsg(db) : "out of memory");
	return (-1);
}

/* Creates the folder holding path, one level, so a default location under
 * a fresh data directory works. */
static void
make_parent_dir(const char *path)
{
	char  dir[4096];
	char *slash;

	if (strlen(path) >= sizeof(dir)) {
		return;
	}
	strcpy(dir, path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		(void)mkdir(dir, 0750);
	}
}

static int
user_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int           v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) ==
	    SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			v = sqlite3_column_int(st, 0);
		}
		sqlite3_finalize(st);
	}
	return (v);
}

/* Creates the schema, or brings an older one up to date, in one
 * transaction: a crash half-way leaves the old schema whole. */
static int
upgrade(store *s, char *err, size_t errlen)
{
	int v = user_version(s->db);

	if (v > 2) {
		snprintf(err, errlen,
		         "the database is of schema version %d, newer than "
		         "this offstatd (2)",
		         v);
		return (-1);
	}
	if (v == 2) {
		return (0);
	}
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		return (fail(err, errlen, s->db, "upgrading the schema"));
	}
	if ((v == 1 && sqlite3_exec(s->db, migrate_v1, NULL, NULL, NULL) !=
	                       SQLITE_OK) ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
	    (v == 1 && sqlite3_exec(s->db, migrate_v1_copy, NULL, NULL,
	                            NULL) != SQLITE_OK)) {
		fail(err, errlen, s->db, "upgrading the schema");
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return (-1);
	}
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(err, errlen, s->db, "upgrading the schema");
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return (-1);
	}
	return (0);
}

int
store_open(store **out, const char *path, char *err, size_t errlen)
{
	store *s;
	int    rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		return (fail(err, errlen, NULL, "open"));
	}
	if (strcmp(path, ":memory:") != 0) {
		make_parent_dir(path);
	}
	rc = sqlite3_open_v2(path, &s->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                             SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		fail(err, errlen, s->db, path);
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	/* WAL lets a loader write while a reader loads a snapshot; FULL
	 * sync makes a commit durable before it is acknowledged. */
	if (sqlite3_exec(
	            s->db,
	            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
	            "PRAGMA foreign_keys = ON;",
	            NULL, NULL, NULL) != SQLITE_OK) {
		fail(err, errlen, s->db, path);
		goto fail;
	}
	if (upgrade(s, err, errlen) != 0) {
		goto fail;
	}
	for (int i = 0; i < ST_NSTMT; i++) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
		                       SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
		                       NULL) != SQLITE_OK) {
			fail(err, errlen, s->db, "preparing statements");
			goto fail;
		}
	}
	*out = s;
	return (0);
fail:
	store_close(s);
	return (-1);
}

void
store_close(store *s)
{
	if (s == NULL) {
		return;
	}
	if (s->in_tx) {
		store_rollback(s);
	}
	for (int i = 0; i < ST_NSTMT; i++) {
		sqlite3_finalize(s->stmt[i]);
	}
	sqlite3_close(s->db);
	free(s->seq_of);
	free(s);
}

bool
store_is_empty(store *s)
{
	sqlite3_stmt *st;
	bool          empty = true;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM areas LIMIT 1", -1, &st,
	                       NULL) == SQLITE_OK) {
		empty = sqlite3_step(st) != SQLITE_ROW;
		sqlite3_finalize(st);
	}
	return (empty);
}

void
store_bulk(store *s, bool on)
{
	/* 64 MiB of page cache while a large load runs, SQLite's default
	 * (2 MiB) otherwise, so a long-running service stays small. A bulk
	 * load resolves every reference against the snapshot before it
	 * writes, so checking each row's three foreign keys again (a B-tree
	 * probe each) only slows it: they are off meanwhile. SQLite ignores
	 * that pragma inside a transaction, hence the rule in store.h. */
	(void)sqlite3_exec(s->db,
	                   on ? "PRAGMA cache_size = -65536;"
	                        "PRAGMA foreign_keys = OFF"
	                      : "PRAGMA cache_size = -2000;"
	                        "PRAGMA foreign_keys = ON",
	                   NULL, NULL, NULL);
	if (!on) {
		(void)sqlite3_db_release_memory(s->db);
	}
}

int
store_begin(store *s, char *err, size_t errlen)
{
	/* IMMEDIATE takes the write lock now, not at the first write, so a
	 * second writer waits here rather than failing half-way. */
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		return (fail(err, errlen, s->db, "begin"));
	}
	s->in_tx = true;
	return (0);
}

int
store_commit(store *s, char *err, size_t errlen)
{
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		fail(err, errlen, s->db, "commit");
		store_rollback(s);
		return (-1);
	}
	s->in_tx = false;
	s->cur   = 0;
	return (0);
}

void
store_rollback(store *s)
{
	if (s->in_tx) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_tx = false;
	}
	s->cur = 0;
}

static void
bind_text(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v != NULL ? v : "", -1, SQLITE_STATIC);
}

static int
step_done(store *s, sqlite3_stmt *st, const char *what, char *err,
          size_t errlen)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		return (fail(err, errlen, s->db, what));
	}
	return (0);
}

int
store_put_area(store *s, const store_area *a, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_AREA];
	bind_text(st, 1, a->code);
	bind_text(st, 2, a->name);
	sqlite3_bind_int(st, 3, a->kind);
	if (a->parent != NULL && a->parent[0] != '\0') {
		bind_text(st, 4, a->parent);
	} else {
		sqlite3_bind_null(st, 4);
	}
	bind_text(st, 5, a->aliases);
	bind_text(st, 6, a->members);
	if (step_done(s, st, a->code, err, errlen) != 0) {
		return (-1);
	}
	if (a->population == 0) {
		return (0);
	}
	st = s->stmt[ST_POPULATION];
	bind_text(st, 1, a->code);
	sqlite3_bind_int(st, 2, (int)a->population_year);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)a->population);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)a->under18);
	bind_text(st, 5, a->population_source);
	return (step_done(s, st, a->code, err, errlen));
}

int
store_put_offence(store *s, const store_offence *o, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_OFFENCE];
	bind_text(st, 1, o->code);
	bind_text(st, 2, o->description);
	bind_text(st, 3, o->group);
	bind_text(st, 4, o->subgroup);
	sqlite3_bind_int(st, 5, (int)o->break_year);
	bind_text(st, 6, o->break_note);
	bind_text(st, 7, o->note);
	/* A code first seen in an open release is hidden with it. */
	sqlite3_bind_int64(st, 8, (sqlite3_int64)s->cur);
	return (step_done(s, st, o->code, err, errlen));
}

int
store_put_source(store *s, const store_source *src, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_SOURCE];
	bind_text(st, 1, src->id);
	sqlite3_bind_int(st, 2, src->kind);
	bind_text(st, 3, src->title);
	bind_text(st, 4, src->publisher);
	bind_text(st, 5, src->published);
	bind_text(st, 6, src->url);
	bind_text(st, 7, src->note);
	return (step_done(s, st, src->id, err, errlen));
}

static void
bind_count_key(sqlite3_stmt *st, const store_count *c)
{
	bind_text(st, 1, c->area);
	bind_text(st, 2, c->offence);
	sqlite3_bind_int(st, 3, c->period.year);
	sqlite3_bind_int(st, 4, c->period.quarter);
	sqlite3_bind_int(st, 5, c->period.kind);
	bind_text(st, 6, c->source);
}

static bool
same_version(sqlite3_stmt *st, const store_count *c)
{
	const char *note = (const char *)sqlite3_column_text(st, 4);
	return ((uint64_t)sqlite3_column_int64(st, 1) == c->value &&
	        (unsigned)sqlite3_column_int(st, 2) == c->rank &&
	        (unsigned)sqlite3_column_int(st, 3) == c->flags &&
	        strcmp(note != NULL ? note : "", c->note != NULL ? c->note : "") ==
	                0);
}

static uint32_t
seq_of(const store *s, uint64_t release)
{
	return (release < s->nseq_of ? s->seq_of[release] : 0);
}

int
store_put_count(store *s, const store_count *c, int *changed, char *err,
                size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_COUNT_GET];
	int           rc;
	bool          own = false, own_same = false, latest_same = false;
	uint32_t      best = 0;
	int           op;

	*changed = 0;
	if (s->cur == 0) {
		snprintf(err, errlen, "no open release to write to");
		return (-1);
	}
	if (c->value > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "count %llu too large",
		         (unsigned long long)c->value);
		return (-1);
	}
	/* The versions so far: this release's own, if any, and the latest
	 * committed one. A figure equal to the latest committed version is
	 * not a change, so re-loading the same figures writes nothing. */
	bind_count_key(st, c);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t rel = (uint64_t)sqlite3_column_int64(st, 0);
		uint32_t q   = seq_of(s, rel);
		if (rel == s->cur) {
			own      = true;
			own_same = same_version(st, c);
		} else if (q > best) {
			best        = q;
			latest_same = same_version(st, c);
		}
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		return (fail(err, errlen, s->db, "reading counts"));
	}
	if (best > 0 && latest_same) {
		if (!own) {
			return (0);
		}
		/* A corrected batch put the figure back as it was. */
		op       = ST_COUNT_DELETE;
		*changed = -1;
	} else if (own) {
		if (own_same) {
			return (0);
		}
		op = ST_COUNT_UPDATE;
	} else {
		op       = ST_COUNT_INSERT;
		*changed = 1;
	}
	st = s->stmt[op];
	bind_count_key(st, c);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)s->cur);
	if (op != ST_COUNT_DELETE) {
		sqlite3_bind_int64(st, 8, (sqlite3_int64)c->value);
		sqlite3_bind_int(st, 9, (int)c->rank);
		sqlite3_bind_int(st, 10, (int)c->flags);
		bind_text(st, 11, c->note);
	}
	if (step_done(s, st, "writing counts", err, errlen) != 0) {
		*changed = 0;
		return (-1);
	}
	return (0);
}

int
store_counts_any(store *s, const char *area, const char *offence, bool *any,
                 char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_COUNT_ANY];
	int           rc;

	bind_text(st, 1, area);
	bind_text(st, 2, offence);
	rc   = sqlite3_step(st);
	*any = rc == SQLITE_ROW;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return (fail(err, errlen, s->db, "reading counts"));
	}
	return (0);
}

int
store_put_new_count(store *s, const store_count *c, int *changed, char *err,
                    size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_COUNT_INSERT];

	*changed = 0;
	if (s->cur == 0) {
		snprintf(err, errlen, "no open release to write to");
		return (-1);
	}
	if (c->value > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "count %llu too large",
		         (unsigned long long)c->value);
		return (-1);
	}
	bind_count_key(st, c);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)s->cur);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)c->value);
	sqlite3_bind_int(st, 9, (int)c->rank);
	sqlite3_bind_int(st, 10, (int)c->flags);
	bind_text(st, 11, c->note);
	if (step_done(s, st, "writing counts", err, errlen) != 0) {
		return (-1);
	}
	*changed = 1;
	return (0);
}

int
store_put_change(store *s, const char *area, const char *offence,
                 const period *from, const period *to, double percent,
                 const char *source, const char *note, char *err,
                 size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_CHANGE];
	bind_text(st, 1, area);
	bind_text(st, 2, offence);
	sqlite3_bind_int(st, 3, from->year);
	sqlite3_bind_int(st, 4, from->quarter);
	sqlite3_bind_int(st, 5, from->kind);
	sqlite3_bind_int(st, 6, to->year);
	sqlite3_bind_int(st, 7, to->quarter);
	sqlite3_bind_int(st, 8, to->kind);
	sqlite3_bind_double(st, 9, percent);
	bind_text(st, 10, source);
	bind_text(st, 11, note);
	return (step_done(s, st, "writing changes", err, errlen));
}

/* Reads the commit sequence of every committed release. */
static int
load_seqs(store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	uint64_t      max = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT max(id) FROM releases", -1, &st,
	                       NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "releases"));
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		max = (uint64_t)sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	uint32_t *v = calloc(max + 2, sizeof(*v));
	if (v == NULL) {
		return (fail(err, errlen, NULL, "releases"));
	}
	free(s->seq_of);
	s->seq_of  = v;
	s->nseq_of = max + 2;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT id, seq FROM releases WHERE state = 2",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "releases"));
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		if (id < s->nseq_of) {
			v[id] = (uint32_t)sqlite3_column_int64(st, 1);
		}
	}
	sqlite3_finalize(st);
	return (0);
}

int
store_release_open(store *s, const char *label, const char *source,
                   const char *by, uint64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_RELEASE_OPEN];

	bind_text(st, 1, label);
	bind_text(st, 2, source);
	bind_text(st, 3, by != NULL && by[0] != '\0' ? by : "local");
	if (step_done(s, st, "opening a release", err, errlen) != 0) {
		return (-1);
	}
	*id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return (store_release_use(s, *id, err, errlen));
}

int
store_release_get(store *s, uint64_t id, store_release *r, char *err,
                  size_t errlen)
{
	sqlite3_stmt *st;
	int           rc;

	memset(r, 0, sizeof(*r));
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT id, state, rows, changed, seq, source, "
	                       "touched FROM releases WHERE id = ?1",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "releases"));
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r->id      = (uint64_t)sqlite3_column_int64(st, 0);
		r->state   = sqlite3_column_int(st, 1);
		r->rows    = (uint64_t)sqlite3_column_int64(st, 2);
		r->changed = (uint64_t)sqlite3_column_int64(st, 3);
		r->seq     = (uint64_t)sqlite3_column_int64(st, 4);
		snprintf(r->source, sizeof(r->source), "%s",
		         (const char *)sqlite3_column_text(st, 5));
		r->touched = sqlite3_column_int64(st, 6);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		return (0);
	}
	if (rc == SQLITE_DONE) {
		snprintf(err, errlen, "there is no release %llu",
		         (unsigned long long)id);
		return (1);
	}
	return (fail(err, errlen, s->db, "releases"));
}

int
store_release_use(store *s, uint64_t id, char *err, size_t errlen)
{
	if (load_seqs(s, err, errlen) != 0) {
		return (-1);
	}
	s->cur = id;
	return (0);
}

int
store_release_add(store *s, uint64_t id, uint64_t rows, int64_t changed,
                  char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_RELEASE_ADD];
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)rows);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)changed);
	return (step_done(s, st, "recording the release", err, errlen));
}

static int
exec_id(store *s, const char *sql, uint64_t id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int           rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "releases"));
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return (fail(err, errlen, s->db, "releases"));
	}
	return (0);
}

int
store_release_commit(store *s, uint64_t id, uint64_t *seq, char *err,
                     size_t errlen)
{
	store_release r;
	int           rc;

	if ((rc = store_release_get(s, id, &r, err, errlen)) != 0) {
		return (rc);
	}
	if (r.state != RELEASE_OPEN) {
		snprintf(err, errlen, "release %llu is not open",
		         (unsigned long long)id);
		return (1);
	}
	if (exec_id(s,
	            "UPDATE releases SET state = 2, seq = (SELECT "
	            "coalesce(max(seq), 0) + 1 FROM releases), committed_at = "
	            "strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), touched = "
	            "CAST(strftime('%s', 'now') AS INTEGER) "
	            "WHERE id = ?1 AND state = 1",
	            id, err, errlen) != 0 ||
	    /* Codes it brought become part of the catalogue for good, and
	     * so do codes another, still open, release brought first. */
	    exec_id(s,
	            "UPDATE offences SET release = 0 WHERE release = ?1 OR "
	            "(release != 0 AND code IN (SELECT offence FROM counts "
	            "WHERE release = ?1))",
	            id, err, errlen) != 0) {
		return (-1);
	}
	if (store_release_get(s, id, &r, err, errlen) != 0) {
		return (-1);
	}
	*seq   = r.seq;
	s->cur = 0;
	return (0);
}

int
store_release_drop(store *s, uint64_t id, int state, char *err, size_t errlen)
{
	sqlite3_stmt *st;

	if (state != RELEASE_ABORTED && state != RELEASE_EXPIRED) {
		snprintf(err, errlen, "bad state %d", state);
		return (-1);
	}
	if (exec_id(s, "DELETE FROM counts WHERE release = ?1", id, err,
	            errlen) != 0) {
		return (-1);
	}
	/* Codes it brought go, unless another open release uses them. */
	if (exec_id(s,
	            "DELETE FROM offences WHERE release = ?1 AND NOT EXISTS "
	            "(SELECT 1 FROM counts WHERE offence = code)",
	            id, err, errlen) != 0 ||
	    exec_id(s,
	            "UPDATE offences SET release = (SELECT min(release) FROM "
	            "counts WHERE offence = code) WHERE release = ?1",
	            id, err, errlen) != 0) {
		return (-1);
	}
	if (sqlite3_prepare_v2(s->db,
	                       "UPDATE releases SET state = ?2, changed = 0, "
	                       "touched = CAST(strftime('%s', 'now') AS "
	                       "INTEGER) WHERE id = ?1 AND state = 1",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "releases"));
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int(st, 2, state);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return (fail(err, errlen, s->db, "releases"));
	}
	if (sqlite3_changes(s->db) != 1) {
		snprintf(err, errlen, "release %llu is not open",
		         (unsigned long long)id);
		return (1);
	}
	if (s->cur == id) {
		s->cur = 0;
	}
	return (0);
}

int
store_releases(store *s, int (*fn)(void *arg, const store_release_row *r),
               void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int           rv = 0;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT id, label, source, state, opened_at, "
	                       "committed_at, loaded_by, rows, changed, seq, "
	                       "touched FROM releases ORDER BY id",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "releases"));
	}
	while (rv == 0 && sqlite3_step(st) == SQLITE_ROW) {
		store_release_row r = {
		        .id      = (uint64_t)sqlite3_column_int64(st, 0),
		        .label   = (const char *)sqlite3_column_text(st, 1),
		        .source  = (const char *)sqlite3_column_text(st, 2),
		        .state   = sqlite3_column_int(st, 3),
		        .opened_at = (const char *)sqlite3_column_text(st, 4),
		        .committed_at =
		                (const char *)sqlite3_column_text(st, 5),
		        .loaded_by = (const char *)sqlite3_column_text(st, 6),
		        .rows      = (uint64_t)sqlite3_column_int64(st, 7),
		        .changed   = (uint64_t)sqlite3_column_int64(st, 8),
		        .seq       = (uint64_t)sqlite3_column_int64(st, 9),
		        .touched   = sqlite3_column_int64(st, 10),
		};
		rv = fn(arg, &r);
	}
	sqlite3_finalize(st);
	return (rv);
}

int
store_key_get(store *s, const char *writer, const char *key, uint64_t *hash,
              void **reply, size_t *len, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int           rc, rv = 1;

	*reply = NULL;
	*len   = 0;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT hash, reply FROM ingest_keys WHERE "
	                       "writer = ?1 AND key = ?2",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "idempotency keys"));
	}
	bind_text(st, 1, writer);
	bind_text(st, 2, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		*hash    = (uint64_t)sqlite3_column_int64(st, 0);
		if ((*reply = malloc(n > 0 ? n : 1)) == NULL) {
			rv = fail(err, errlen, NULL, "idempotency keys");
		} else {
			if (n > 0) {
				memcpy(*reply, sqlite3_column_blob(st, 1), n);
			}
			*len = n;
			rv   = 0;
		}
	} else if (rc != SQLITE_DONE) {
		rv = fail(err, errlen, s->db, "idempotency keys");
	}
	sqlite3_finalize(st);
	return (rv);
}

int
store_key_put(store *s, const char *writer, const char *key, uint64_t hash,
              const void *reply, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int           rc;

	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR REPLACE INTO ingest_keys(writer, key, "
	                       "hash, reply, created) VALUES (?1, ?2, ?3, ?4, "
	                       "CAST(strftime('%s', 'now') AS INTEGER))",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "idempotency keys"));
	}
	bind_text(st, 1, writer);
	bind_text(st, 2, key);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)hash);
	sqlite3_bind_blob(st, 4, len > 0 ? reply : "", (int)len,
	                  SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return (fail(err, errlen, s->db, "idempotency keys"));
	}
	return (0);
}

int
store_keys_expire(store *s, int64_t older_than, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int           rc;

	if (sqlite3_prepare_v2(s->db,
	                       "DELETE FROM ingest_keys WHERE created < ?1",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "idempotency keys"));
	}
	sqlite3_bind_int64(st, 1, older_than);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return (rc == SQLITE_DONE ? 0
	                          : fail(err, errlen, s->db, "idempotency keys"));
}

int
store_check(store *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int           rv = -1;

	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st,
	                       NULL) != SQLITE_OK) {
		return (fail(err, errlen, s->db, "integrity check"));
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		if (r != NULL && strcmp(r, "ok") == 0) {
			rv = 0;
		} else {
			snprintf(err, errlen, "integrity check: %s",
			         r != NULL ? r : "?");
		}
	}
	sqlite3_finalize(st);
	return (rv);
}

/* ---- Loading a snapshot ------------------------------------------- */

typedef struct {
	store    *s;
	snapshot *snap;
	char     *err;
	size_t    errlen;
	uint32_t *seq_of; /* commit sequence by release id; 0: not visible */
	size_t    nseq_of;
} loader;

static const char *
col_str(loader *l, sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);
	return (arena_strdup(&l->snap->mem, v));
}

static int
count_rows(loader *l, const char *table, size_t *n)
{
	char          sql[128];
	sqlite3_stmt *st;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	if (sqlite3_prepare_v2(l->s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		return (fail(l->err, l->errlen, l->s->db, table));
	}
	*n = sqlite3_step(st) == SQLITE_ROW
	             ? (size_t)sqlite3_column_int64(st, 0)
	             : 0;
	sqlite3_finalize(st);
	return (0);
}

/* Splits a ';'-separated list into trimmed, non-empty items. */
static const char **
split_list(loader *l, const char *text, size_t *n)
{
	size_t       cap = 1;
	const char **v;

	for (const char *p = text; *p != '\0'; p++) {
		cap += *p == ';';
	}
	if ((v = arena_calloc(&l->snap->mem, cap, sizeof(*v))) == NULL) {
		return (NULL);
	}
	*n = 0;
	while (*text != '\0') {
		const char *end = strchr(text, ';');
		size_t      len = end ? (size_t)(end - text) : strlen(text);
		const char *a = text, *b = text + len;
		while (a < b && *a == ' ') {
			a++;
		}
		while (b > a && b[-1] == ' ') {
			b--;
		}
		if (b > a) {
			char *item = arena_alloc(&l->snap->mem,
			                         (size_t)(b - a) + 1);
			if (item == NULL) {
				return (NULL);
			}
			memcpy(item, a, (size_t)(b - a));
			v[(*n)++] = item;
		}
		text += len + (end != NULL);
	}
	return (v);
}

static int
load_areas(loader *l)
{
	snapshot     *snap = l->snap;
	sqlite3_stmt *st;
	size_t        n;
	const char  **parents, **members;

	if (count_rows(l, "areas", &n) != 0) {
		return (-1);
	}
	snap->areas = arena_calloc(&snap->mem, n + 1, sizeof(snap_area));
	parents     = calloc(n + 1, sizeof(*parents));
	members     = calloc(n + 1, sizeof(*members));
	if (snap->areas == NULL || parents == NULL || members == NULL) {
		free(parents);
		free(members);
		return (fail(l->err, l->errlen, NULL, "areas"));
	}
	/* The latest population year known for each area. */
	if (sqlite3_prepare_v2(
	            l->s->db,
	            "SELECT a.code, a.name, a.kind, coalesce(a.parent, ''), "
	            "a.aliases, a.members, coalesce(p.total, 0), "
	            "coalesce(p.under18, 0), coalesce(p.source, '') "
	            "FROM areas a LEFT JOIN populations p ON p.area = a.code "
	            "AND p.year = (SELECT max(year) FROM populations q "
	            "WHERE q.area = a.code) ORDER BY a.code",
	            -1, &st, NULL) != SQLITE_OK) {
		free(parents);
		free(members);
		return (fail(l->err, l->errlen, l->s->db, "areas"));
	}
	while (snap->nareas < n && sqlite3_step(st) == SQLITE_ROW) {
		snap_area *a          = &snap->areas[snap->nareas];
		a->code               = col_str(l, st, 0);
		a->name               = col_str(l, st, 1);
		a->kind               = sqlite3_column_int(st, 2);
		parents[snap->nareas] = col_str(l, st, 3);
		a->aliases =
		        split_list(l, (const char *)sqlite3_column_text(st, 4),
		                   &a->naliases);
		members[snap->nareas] = col_str(l, st, 5);
		a->population         = (uint64_t)sqlite3_column_int64(st, 6);
		a->under18            = (uint64_t)sqlite3_column_int64(st, 7);
		a->population_source  = col_str(l, st, 8);
		a->parent             = -1;
		snap->nareas++;
	}
	sqlite3_finalize(st);
	int rv = 0;
	for (size_t i = 0; i < snap->nareas; i++) {
		snap_area *a = &snap->areas[i];
		if (parents[i] != NULL && parents[i][0] != '\0' &&
		    (a->parent = snapshot_area_by_code(snap, parents[i])) <
		            0) {
			snprintf(l->err, l->errlen,
			         "area %s: unknown parent %s", a->code,
			         parents[i]);
			rv = -1;
			break;
		}
		size_t       nm   = 0;
		const char **list = split_list(l, members[i], &nm);
		if (nm > 0) {
			a->members = arena_calloc(&snap->mem, nm, sizeof(int));
			for (size_t k = 0; a->members != NULL && k < nm; k++) {
				int m = snapshot_area_by_code(snap, list[k]);
				if (m < 0) {
					snprintf(l->err, l->errlen,
					         "area %s: unknown member %s",
					         a->code, list[k]);
					rv = -1;
					break;
				}
				a->members[a->nmembers++] = m;
			}
		}
	}
	free(parents);
	free(members);
	return (rv);
}

static int
load_offences(loader *l)
{
	snapshot     *snap = l->snap;
	sqlite3_stmt *st;
	size_t        n;

	if (count_rows(l, "offences", &n) != 0) {
		return (-1);
	}
	snap->offences = arena_calloc(&snap->mem, n + 1, sizeof(snap_offence));
	if (snap->offences == NULL ||
	    sqlite3_prepare_v2(l->s->db,
	                       "SELECT code, description, grp, subgroup, "
	                       "note, break_year, break_note FROM offences "
	                       "WHERE release = 0 OR release IN (SELECT id "
	                       "FROM releases WHERE state = 2) ORDER BY code",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(l->err, l->errlen, l->s->db, "offences"));
	}
	while (snap->noffences < n && sqlite3_step(st) == SQLITE_ROW) {
		snap_offence *o = &snap->offences[snap->noffences++];
		o->code         = col_str(l, st, 0);
		o->description  = col_str(l, st, 1);
		o->group        = col_str(l, st, 2);
		o->subgroup     = col_str(l, st, 3);
		o->note         = col_str(l, st, 4);
		o->break_year   = (unsigned)sqlite3_column_int(st, 5);
		o->break_note   = col_str(l, st, 6);
	}
	sqlite3_finalize(st);
	return (0);
}

static int
load_sources(loader *l)
{
	snapshot     *snap = l->snap;
	sqlite3_stmt *st;
	size_t        n;

	if (count_rows(l, "sources", &n) != 0) {
		return (-1);
	}
	snap->sources = arena_calloc(&snap->mem, n + 1, sizeof(snap_source));
	if (snap->sources == NULL ||
	    sqlite3_prepare_v2(
	            l->s->db,
	            "SELECT id, kind, title, publisher, published, url, note "
	            "FROM sources ORDER BY id",
	            -1, &st, NULL) != SQLITE_OK) {
		return (fail(l->err, l->errlen, l->s->db, "sources"));
	}
	while (snap->nsources < n && sqlite3_step(st) == SQLITE_ROW) {
		snap_source *src = &snap->sources[snap->nsources++];
		src->id          = col_str(l, st, 0);
		src->kind        = sqlite3_column_int(st, 1);
		src->title       = col_str(l, st, 2);
		src->publisher   = col_str(l, st, 3);
		src->published   = col_str(l, st, 4);
		src->url         = col_str(l, st, 5);
		src->note        = col_str(l, st, 6);
	}
	sqlite3_finalize(st);
	return (0);
}

/* One version of a figure while a cell is being read. */
typedef struct {
	int         source; /* index into the snapshot's sources */
	uint64_t    value;
	uint32_t    release;
	uint32_t    seq;
	uint16_t    rank;
	uint16_t    flags;
	const char *note;
} ld_version;

typedef struct {
	ld_version *v;
	size_t      n, cap;
} ld_cell;

/* Orders versions by source id (sources are sorted by id, so by index),
 * then newest commit first. */
static int
cmp_version(const void *pa, const void *pb)
{
	const ld_version *a = pa, *b = pb;
	if (a->source != b->source) {
		return (a->source < b->source ? -1 : 1);
	}
	return (a->seq < b->seq ? 1 : a->seq > b->seq ? -1 : 0);
}

/*
 * Turns the versions of one cell into entries: per source the newest
 * version, with the older ones as its history, best source first
 * (preferred rank, then source id).
 */
static int
flush_cell(loader *l, ld_cell *c, uint64_t key, uint64_t *keys)
{
	snapshot *snap  = l->snap;
	size_t    first = snap->nentries;

	if (c->n == 0) {
		return (0);
	}
	qsort(c->v, c->n, sizeof(*c->v), cmp_version);
	for (size_t i = 0; i < c->n;) {
		size_t j = i + 1;
		while (j < c->n && c->v[j].source == c->v[i].source) {
			j++;
		}
		int         src = c->v[i].source;
		snap_entry *e   = &snap->entries[snap->nentries];
		e->value      = c->v[i].value;
		e->source     = (uint32_t)src;
		e->rank       = c->v[i].rank;
		e->flags      = c->v[i].flags;
		e->note       = c->v[i].note;
		e->release    = c->v[i].release;
		e->seq        = c->v[i].seq;
		e->nhist      = (uint32_t)(j - i - 1);
		e->hist       = NULL;
		if (e->nhist > 0) {
			snap_version *h = arena_calloc(&snap->mem, e->nhist,
			                               sizeof(*h));
			if (h == NULL) {
				return (fail(l->err, l->errlen, NULL,
				             "counts"));
			}
			for (size_t k = 0; k < e->nhist; k++) {
				const ld_version *v = &c->v[i + 1 + k];
				h[k] = (snap_version){.value   = v->value,
				                      .release = v->release,
				                      .seq     = v->seq,
				                      .rank    = v->rank,
				                      .flags   = v->flags,
				                      .note    = v->note};
				if (v->value != e->value) {
					e->flags |= FLAG_REVISED;
				}
			}
			e->hist = h;
		}
		keys[snap->nentries++] = key;
		i = j;
	}
	/* Best first: a stable insertion sort by rank keeps source order. */
	for (size_t i = first + 1; i < snap->nentries; i++) {
		snap_entry t = snap->entries[i];
		size_t     k = i;
		while (k > first && snap->entries[k - 1].rank > t.rank) {
			snap->entries[k] = snap->entries[k - 1];
			k--;
		}
		snap->entries[k] = t;
	}
	c->n = 0;
	return (0);
}

/*
 * Codes were sorted the same way SQLite sorts them (memcmp), so areas and
 * offences are found by binary search while rows stream in, in the
 * table's own key order (no sort). Versions of releases not committed are
 * skipped.
 */
static int
load_counts(loader *l, uint64_t **keys_out)
{
	snapshot     *snap = l->snap;
	sqlite3_stmt *st   = NULL;
	size_t        n;
	uint64_t     *keys;
	int           last_area = -1, last_off = -1;
	int           last_src   = -1;
	char          last_a[64] = "", last_o[64] = "", last_s[64] = "";
	uint64_t      cur_key = 0;
	bool          have    = false;
	ld_cell       c       = {0};
	int           rv      = -1;

	if (count_rows(l, "counts", &n) != 0) {
		return (-1);
	}
	snap->entries = arena_calloc(&snap->mem, n + 1, sizeof(snap_entry));
	keys          = malloc((n + 1) * sizeof(*keys));
	if (snap->entries == NULL || keys == NULL) {
		free(keys);
		return (fail(l->err, l->errlen, NULL, "counts"));
	}
	if (sqlite3_prepare_v2(l->s->db,
	                       "SELECT area, offence, year, quarter, kind, "
	                       "source, release, value, rank, flags, note "
	                       "FROM counts",
	                       -1, &st, NULL) != SQLITE_OK) {
		fail(l->err, l->errlen, l->s->db, "counts");
		goto done;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t rel = (uint64_t)sqlite3_column_int64(st, 6);
		uint32_t seq = rel < l->nseq_of ? l->seq_of[rel] : 0;
		if (seq == 0) {
			continue; /* open, aborted or expired */
		}
		const char *a = (const char *)sqlite3_column_text(st, 0);
		const char *o = (const char *)sqlite3_column_text(st, 1);
		if (strcmp(a, last_a) != 0) {
			last_area = snapshot_area_by_code(snap, a);
			snprintf(last_a, sizeof(last_a), "%s", a);
		}
		if (strcmp(o, last_o) != 0) {
			last_off = snapshot_offence_by_code(snap, o);
			snprintf(last_o, sizeof(last_o), "%s", o);
		}
		if (last_area < 0 || last_off < 0) {
			snprintf(l->err, l->errlen,
			         "counts: dangling reference %s/%s", a, o);
			goto done;
		}
		period p = {
		        .year    = (uint16_t)sqlite3_column_int(st, 2),
		        .quarter = (uint8_t)sqlite3_column_int(st, 3),
		        .kind    = (uint8_t)sqlite3_column_int(st, 4),
		};
		uint64_t key = snapshot_key((uint32_t)last_area,
		                            (uint32_t)last_off, &p);
		if (have && key != cur_key &&
		    flush_cell(l, &c, cur_key, keys) != 0) {
			goto done;
		}
		cur_key = key;
		have    = true;
		if (c.n == c.cap) {
			size_t      cap = c.cap ? c.cap * 2 : 16;
			ld_version *v   = realloc(c.v, cap * sizeof(*v));
			if (v == NULL) {
				fail(l->err, l->errlen, NULL, "counts");
				goto done;
			}
			c.v   = v;
			c.cap = cap;
		}
		/* Rows come grouped by cell, and the cells of a file share
		 * one source: resolving its id only when it changes spares a
		 * search and a copy per row (a sixth of start-up). */
		const char *sid = (const char *)sqlite3_column_text(st, 5);
		if (sid == NULL) {
			sid = "";
		}
		if (last_src < 0 || strcmp(sid, last_s) != 0) {
			last_src = snapshot_source_by_id(snap, sid);
			snprintf(last_s, sizeof(last_s), "%s", sid);
			if (last_src < 0) {
				snprintf(l->err, l->errlen,
				         "counts: unknown source %s", sid);
				goto done;
			}
		}
		ld_version *v = &c.v[c.n++];
		v->source        = last_src;
		v->release       = (uint32_t)rel;
		v->seq           = seq;
		v->value         = (uint64_t)sqlite3_column_int64(st, 7);
		v->rank          = (uint16_t)sqlite3_column_int(st, 8);
		v->flags         = (uint16_t)sqlite3_column_int(st, 9);
		const char *note = (const char *)sqlite3_column_text(st, 10);
		v->note          = note != NULL && note[0] != '\0'
		                           ? arena_strdup(&snap->mem, note)
		                           : "";
		if (v->note == NULL) {
			fail(l->err, l->errlen, NULL, "counts");
			goto done;
		}
	}
	if (have && flush_cell(l, &c, cur_key, keys) != 0) {
		goto done;
	}
	rv = 0;
done:
	sqlite3_finalize(st);
	free(c.v);
	if (rv != 0) {
		free(keys);
		return (-1);
	}
	*keys_out = keys;
	return (0);
}

static int
load_changes(loader *l)
{
	snapshot     *snap = l->snap;
	sqlite3_stmt *st;
	size_t        n;

	if (count_rows(l, "changes", &n) != 0) {
		return (-1);
	}
	snap->changes = arena_calloc(&snap->mem, n + 1, sizeof(snap_change));
	if (snap->changes == NULL ||
	    sqlite3_prepare_v2(
	            l->s->db,
	            "SELECT area, offence, from_year, from_quarter, "
	            "from_kind, "
	            "to_year, to_quarter, to_kind, percent, source, note "
	            "FROM changes ORDER BY area, offence, from_year, to_year",
	            -1, &st, NULL) != SQLITE_OK) {
		return (fail(l->err, l->errlen, l->s->db, "changes"));
	}
	while (snap->nchanges < n && sqlite3_step(st) == SQLITE_ROW) {
		snap_change *c = &snap->changes[snap->nchanges];
		int          a = snapshot_area_by_code(
		                 snap, (const char *)sqlite3_column_text(st, 0));
		int o = snapshot_offence_by_code(
		        snap, (const char *)sqlite3_column_text(st, 1));
		int src = snapshot_source_by_id(
		        snap, (const char *)sqlite3_column_text(st, 9));
		if (a < 0 || o < 0 || src < 0) {
			continue;
		}
		c->area         = (uint32_t)a;
		c->offence      = (uint32_t)o;
		c->from.year    = (uint16_t)sqlite3_column_int(st, 2);
		c->from.quarter = (uint8_t)sqlite3_column_int(st, 3);
		c->from.kind    = (uint8_t)sqlite3_column_int(st, 4);
		c->to.year      = (uint16_t)sqlite3_column_int(st, 5);
		c->to.quarter   = (uint8_t)sqlite3_column_int(st, 6);
		c->to.kind      = (uint8_t)sqlite3_column_int(st, 7);
		c->percent      = sqlite3_column_double(st, 8);
		c->source       = (uint32_t)src;
		c->note         = col_str(l, st, 10);
		snap->nchanges++;
	}
	sqlite3_finalize(st);
	return (0);
}

/* The committed releases in commit order; the last is the one served. */
static int
load_releases(loader *l)
{
	sqlite3_stmt *st;
	snapshot     *snap = l->snap;
	size_t        n;
	uint64_t      max = 0;

	if (count_rows(l, "releases", &n) != 0) {
		return (-1);
	}
	snap->releases = arena_calloc(&snap->mem, n + 1, sizeof(snap_release));
	if (snap->releases == NULL) {
		return (fail(l->err, l->errlen, NULL, "releases"));
	}
	if (sqlite3_prepare_v2(l->s->db,
	                       "SELECT id, seq, label, committed_at, source "
	                       "FROM releases WHERE state = 2 ORDER BY seq",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(l->err, l->errlen, l->s->db, "releases"));
	}
	while (snap->nreleases < n && sqlite3_step(st) == SQLITE_ROW) {
		snap_release *r = &snap->releases[snap->nreleases++];
		r->id           = (uint64_t)sqlite3_column_int64(st, 0);
		r->seq          = (uint32_t)sqlite3_column_int64(st, 1);
		r->label        = col_str(l, st, 2);
		r->committed_at = col_str(l, st, 3);
		r->source       = col_str(l, st, 4);
		if (r->id > max) {
			max = r->id;
		}
	}
	sqlite3_finalize(st);
	l->nseq_of = max + 1;
	if ((l->seq_of = calloc(l->nseq_of, sizeof(*l->seq_of))) == NULL) {
		return (fail(l->err, l->errlen, NULL, "releases"));
	}
	for (size_t i = 0; i < snap->nreleases; i++) {
		l->seq_of[snap->releases[i].id] = snap->releases[i].seq;
	}
	if (snap->nreleases > 0) {
		const snap_release *last = &snap->releases[snap->nreleases - 1];
		snap->release            = last->id;
		snap->seq                = last->seq;
		snap->release_label      = last->label;
		snap->loaded_at          = last->committed_at;
	} else {
		snap->release_label = "";
		snap->loaded_at     = "";
	}
	return (0);
}

int
store_load_snapshot(store *s, snapshot **out, char *err, size_t errlen)
{
	loader    l    = {.s = s, .err = err, .errlen = errlen};
	uint64_t *keys = NULL;
	int       rv   = -1;

	if ((l.snap = snapshot_new()) == NULL) {
		return (fail(err, errlen, NULL, "snapshot"));
	}
	/* One read transaction: every table from the same commit. */
	if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		fail(err, errlen, s->db, "begin");
		goto done;
	}
	if (load_releases(&l) == 0 && load_areas(&l) == 0 &&
	    load_offences(&l) == 0 && load_sources(&l) == 0 &&
	    load_counts(&l, &keys) == 0 && load_changes(&l) == 0 &&
	    snapshot_index(l.snap, keys, err, errlen) == 0) {
		rv = 0;
	}
	(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
done:
	free(keys);
	free(l.seq_of);
	if (rv != 0) {
		snapshot_unref(l.snap);
		return (-1);
	}
	*out = l.snap;
	return (0);
}
