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
	ST_CHANGE,
	ST_RELEASE,
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
        [ST_OFFENCE]   = "INSERT OR IGNORE INTO offences(code, description, "
                         "grp, subgroup, break_year, break_note, note) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [ST_SOURCE]    = "INSERT OR REPLACE INTO sources(id, kind, title, "
                         "publisher, published, url, note) "
                         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        [ST_COUNT_GET] = "SELECT value, rank, flags, note FROM counts "
                         "WHERE area = ?1 AND offence = ?2 AND year = ?3 "
                         "AND quarter = ?4 AND kind = ?5 AND source = ?6",
        [ST_COUNT_INSERT] = "INSERT INTO counts(area, offence, year, quarter, "
                            "kind, source, value, rank, flags, note) VALUES "
                            "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        [ST_COUNT_UPDATE] = "UPDATE counts SET value = ?7, rank = ?8, "
                            "flags = ?9, note = ?10 WHERE area = ?1 AND "
                            "offence = ?2 AND year = ?3 AND quarter = ?4 AND "
                            "kind = ?5 AND source = ?6",
        [ST_CHANGE]       = "INSERT OR REPLACE INTO changes(area, offence, "
                            "from_year, from_quarter, from_kind, to_year, "
                            "to_quarter, to_kind, percent, source, note) VALUES "
                            "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        [ST_RELEASE] = "INSERT INTO releases(label, source, loaded_at, rows) "
                       "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', "
                       "'now'), ?3)",
};

struct store {
	sqlite3      *db;
	sqlite3_stmt *stmt[ST_NSTMT];
	bool          in_tx;
};

/* Version 1 of the schema; user_version records it. */
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
        " break_note TEXT NOT NULL DEFAULT '', note TEXT NOT NULL DEFAULT '');"
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
        " value INTEGER NOT NULL CHECK (value >= 0),"
        " rank INTEGER NOT NULL DEFAULT 0, flags INTEGER NOT NULL DEFAULT 0,"
        " note TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (area, offence, year, quarter, kind, source)"
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
        " id INTEGER PRIMARY KEY, label TEXT NOT NULL, source TEXT NOT NULL,"
        " loaded_at TEXT NOT NULL, rows INTEGER NOT NULL);"
        "PRAGMA user_version = 1;";

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
	if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
		fail(err, errlen, s->db, "creating the schema");
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
	return (0);
}

void
store_rollback(store *s)
{
	if (s->in_tx) {
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_tx = false;
	}
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

int
store_put_count(store *s, const store_count *c, int *changed, char *err,
                size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_COUNT_GET];
	int           rc;
	int           op = ST_COUNT_INSERT;

	if (c->value > (uint64_t)INT64_MAX) {
		snprintf(err, errlen, "count %llu too large",
		         (unsigned long long)c->value);
		return (-1);
	}
	/* Look first, so re-loading the same figures writes nothing and the
	 * caller can tell a load that changed data from one that did not. */
	bind_count_key(st, c);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *note = (const char *)sqlite3_column_text(st, 3);
		bool        same =
		        (uint64_t)sqlite3_column_int64(st, 0) == c->value &&
		        (unsigned)sqlite3_column_int(st, 1) == c->rank &&
		        (unsigned)sqlite3_column_int(st, 2) == c->flags &&
		        strcmp(note != NULL ? note : "",
		               c->note != NULL ? c->note : "") == 0;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (same) {
			*changed = 0;
			return (0);
		}
		op = ST_COUNT_UPDATE;
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE) {
			return (fail(err, errlen, s->db, "reading counts"));
		}
	}
	st = s->stmt[op];
	bind_count_key(st, c);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)c->value);
	sqlite3_bind_int(st, 8, (int)c->rank);
	sqlite3_bind_int(st, 9, (int)c->flags);
	bind_text(st, 10, c->note);
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

int
store_add_release(store *s, const char *label, const char *source,
                  uint64_t rows, uint64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->stmt[ST_RELEASE];
	bind_text(st, 1, label);
	bind_text(st, 2, source);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)rows);
	if (step_done(s, st, "recording the release", err, errlen) != 0) {
		return (-1);
	}
	*id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	return (0);
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
	                       "note, break_year, "
	                       "break_note FROM offences ORDER BY code",
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

/* Codes were sorted the same way SQLite sorts them (memcmp), so areas and
 * offences are found by binary search while rows stream in. */
static int
load_counts(loader *l, uint64_t **keys_out)
{
	snapshot     *snap = l->snap;
	sqlite3_stmt *st;
	size_t        n;
	uint64_t     *keys;
	int           last_area = -1, last_off = -1;
	char          last_a[64] = "", last_o[64] = "";

	if (count_rows(l, "counts", &n) != 0) {
		return (-1);
	}
	snap->entries = arena_calloc(&snap->mem, n + 1, sizeof(snap_entry));
	keys          = malloc((n + 1) * sizeof(*keys));
	if (snap->entries == NULL || keys == NULL) {
		free(keys);
		return (fail(l->err, l->errlen, NULL, "counts"));
	}
	/* Best entry of a cell first: preferred rank, then source id. */
	if (sqlite3_prepare_v2(l->s->db,
	                       "SELECT area, offence, year, quarter, kind, "
	                       "source, value, "
	                       "rank, flags, note FROM counts ORDER BY area, "
	                       "offence, year, "
	                       "quarter, kind, rank, source",
	                       -1, &st, NULL) != SQLITE_OK) {
		free(keys);
		return (fail(l->err, l->errlen, l->s->db, "counts"));
	}
	while (snap->nentries < n && sqlite3_step(st) == SQLITE_ROW) {
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
		int src = snapshot_source_by_id(
		        snap, (const char *)sqlite3_column_text(st, 5));
		period p = {
		        .year    = (uint16_t)sqlite3_column_int(st, 2),
		        .quarter = (uint8_t)sqlite3_column_int(st, 3),
		        .kind    = (uint8_t)sqlite3_column_int(st, 4),
		};
		if (last_area < 0 || last_off < 0 || src < 0) {
			snprintf(l->err, l->errlen,
			         "counts: dangling reference %s/%s", a, o);
			sqlite3_finalize(st);
			free(keys);
			return (-1);
		}
		snap_entry *e    = &snap->entries[snap->nentries];
		e->value         = (uint64_t)sqlite3_column_int64(st, 6);
		e->source        = (uint32_t)src;
		e->rank          = (uint16_t)sqlite3_column_int(st, 7);
		e->flags         = (uint16_t)sqlite3_column_int(st, 8);
		const char *note = (const char *)sqlite3_column_text(st, 9);
		e->note          = note != NULL && note[0] != '\0'
		                           ? arena_strdup(&snap->mem, note)
		                           : "";
		keys[snap->nentries++] = snapshot_key((uint32_t)last_area,
		                                      (uint32_t)last_off, &p);
	}
	sqlite3_finalize(st);
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

static int
load_release(loader *l)
{
	sqlite3_stmt *st;
	snapshot     *snap = l->snap;

	if (sqlite3_prepare_v2(l->s->db,
	                       "SELECT id, label, loaded_at FROM releases "
	                       "ORDER BY id DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK) {
		return (fail(l->err, l->errlen, l->s->db, "releases"));
	}
	if (sqlite3_step(st) == SQLITE_ROW) {
		snap->release       = (uint64_t)sqlite3_column_int64(st, 0);
		snap->release_label = col_str(l, st, 1);
		snap->loaded_at     = col_str(l, st, 2);
	} else {
		snap->release_label = "";
		snap->loaded_at     = "";
	}
	sqlite3_finalize(st);
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
	if (load_release(&l) == 0 && load_areas(&l) == 0 &&
	    load_offences(&l) == 0 && load_sources(&l) == 0 &&
	    load_counts(&l, &keys) == 0 && load_changes(&l) == 0 &&
	    snapshot_index(l.snap, keys, err, errlen) == 0) {
		rv = 0;
	}
	(void)sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
done:
	free(keys);
	if (rv != 0) {
		snapshot_unref(l.snap);
		return (-1);
	}
	*out = l.snap;
	return (0);
}
