#include "ingest.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "import.h"
#include "log.h"
#include "opendata.h"

/* A release as ListReleases shows it. */
typedef struct {
	uint64_t id;
	char    *label;
	char    *source;
	int      state;
	char    *opened_at;
	char    *committed_at;
	char    *loaded_by;
	uint64_t rows;
	uint64_t changed;
	uint64_t seq;
	int64_t  touched;
} rel;

static struct {
	pthread_mutex_t wlock; /* one write at a time */
	pthread_mutex_t mlock; /* rels and totals */
	store          *st;
	unsigned        expiry;
	rel            *rels; /* in id order */
	size_t          nrels, caprels;
	ingest_totals   tot;
	time_t          keys_swept;
} G = {
        .wlock = PTHREAD_MUTEX_INITIALIZER,
        .mlock = PTHREAD_MUTEX_INITIALIZER,
};

static void
rels_free(rel *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].label);
		free(v[i].source);
		free(v[i].opened_at);
		free(v[i].committed_at);
		free(v[i].loaded_by);
	}
	free(v);
}

typedef struct {
	rel   *v;
	size_t n, cap;
	bool   oom;
} rel_list;

static char *
dup(const char *s, bool *oom)
{
	char *d = strdup(s != NULL ? s : "");
	if (d == NULL) {
		*oom = true;
	}
	return (d);
}

static int
add_rel(void *arg, const store_release_row *r)
{
	rel_list *l = arg;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		rel   *v   = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			l->oom = true;
			return (1);
		}
		l->v   = v;
		l->cap = cap;
	}
	rel *d          = &l->v[l->n++];
	d->id           = r->id;
	d->state        = r->state;
	d->rows         = r->rows;
	d->changed      = r->changed;
	d->seq          = r->seq;
	d->touched      = r->touched;
	d->label        = dup(r->label, &l->oom);
	d->source       = dup(r->source, &l->oom);
	d->opened_at    = dup(r->opened_at, &l->oom);
	d->committed_at = dup(r->committed_at, &l->oom);
	d->loaded_by    = dup(r->loaded_by, &l->oom);
	return (l->oom ? 1 : 0);
}

/* Re-reads the releases table into the copy ListReleases serves. */
static int
mirror_reload(char *err, size_t errlen)
{
	rel_list l = {0};

	if (store_releases(G.st, add_rel, &l, err, errlen) != 0 || l.oom) {
		if (l.oom) {
			snprintf(err, errlen, "out of memory");
		}
		rels_free(l.v, l.n);
		return (-1);
	}
	pthread_mutex_lock(&G.mlock);
	rels_free(G.rels, G.nrels);
	G.rels    = l.v;
	G.nrels   = l.n;
	G.caprels = l.cap;
	pthread_mutex_unlock(&G.mlock);
	return (0);
}

int
ingest_init(store *st, unsigned expiry_s, char *err, size_t errlen)
{
	G.st         = st;
	G.expiry     = expiry_s;
	G.keys_swept = 0;
	memset(&G.tot, 0, sizeof(G.tot));
	return (mirror_reload(err, errlen));
}

void
ingest_fini(void)
{
	pthread_mutex_lock(&G.wlock);
	pthread_mutex_lock(&G.mlock);
	rels_free(G.rels, G.nrels);
	G.rels  = NULL;
	G.nrels = G.caprels = 0;
	G.st                = NULL;
	pthread_mutex_unlock(&G.mlock);
	pthread_mutex_unlock(&G.wlock);
}

void
ingest_get_totals(ingest_totals *t)
{
	pthread_mutex_lock(&G.mlock);
	*t = G.tot;
	pthread_mutex_unlock(&G.mlock);
}

static void
count(uint64_t *field, uint64_t n)
{
	pthread_mutex_lock(&G.mlock);
	*field += n;
	pthread_mutex_unlock(&G.mlock);
}

static const char *
state_name(int state)
{
	switch (state) {
	case RELEASE_OPEN:
		return ("open");
	case RELEASE_COMMITTED:
		return ("committed");
	case RELEASE_ABORTED:
		return ("aborted");
	case RELEASE_EXPIRED:
		return ("expired");
	}
	return ("unknown");
}

/* Publishes a snapshot of what is committed now. */
static void
republish(void)
{
	snapshot *snap;
	char      err[512];

	if (store_load_snapshot(G.st, &snap, err, sizeof(err)) != 0) {
		/* The data is committed and durable; it will be served
		 * after the next successful load or a restart. */
		log_error("reloading the snapshot failed", "error=\"%s\"",
		          err);
		return;
	}
	snapshot_publish(snap);
}

void
ingest_sweep(void)
{
	time_t    now = time(NULL);
	uint64_t *ids = NULL;
	size_t    n   = 0;
	char      err[512];

	if (G.st == NULL) {
		return;
	}
	pthread_mutex_lock(&G.mlock);
	if (G.expiry > 0 &&
	    (ids = calloc(G.nrels + 1, sizeof(*ids))) != NULL) {
		for (size_t i = 0; i < G.nrels; i++) {
			if (G.rels[i].state == RELEASE_OPEN &&
			    G.rels[i].touched + (int64_t)G.expiry <
			            (int64_t)now) {
				ids[n++] = G.rels[i].id;
			}
		}
	}
	pthread_mutex_unlock(&G.mlock);
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&G.wlock);
		if (store_begin(G.st, err, sizeof(err)) == 0) {
			int rc = store_release_drop(G.st, ids[i],
			                            RELEASE_EXPIRED, err,
			                            sizeof(err));
			if (rc == 0 && store_commit(G.st, err, sizeof(err)) ==
			                       0) {
				log_warn("release expired",
				         "release=%llu idle_s=%u",
				         (unsigned long long)ids[i], G.expiry);
				count(&G.tot.expired, 1);
			} else {
				store_rollback(G.st);
				if (rc < 0) {
					log_error("expiring a release failed",
					          "release=%llu error=\"%s\"",
					          (unsigned long long)ids[i],
					          err);
				}
			}
		}
		(void)mirror_reload(err, sizeof(err));
		pthread_mutex_unlock(&G.wlock);
	}
	free(ids);
	if (now - G.keys_swept >= 600) {
		G.keys_swept = now;
		pthread_mutex_lock(&G.wlock);
		if (store_keys_expire(G.st, (int64_t)now - INGEST_KEY_TTL, err,
		                      sizeof(err)) != 0) {
			log_error("forgetting old idempotency keys failed",
			          "error=\"%s\"", err);
		}
		pthread_mutex_unlock(&G.wlock);
	}
}

/* ---- Ingest --------------------------------------------------------- */

/* FNV-1a over the packed request: what a retry must repeat exactly. */
static int
request_hash(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in,
             uint64_t *h)
{
	size_t   n   = offstat__v1__ingest_request__get_packed_size(in);
	uint8_t *buf = arena_alloc(&ctx->mem, n > 0 ? n : 1);

	if (buf == NULL) {
		return (-1);
	}
	n  = offstat__v1__ingest_request__pack(in, buf);
	*h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		*h = (*h ^ buf[i]) * 0x100000001b3ull;
	}
	/* SQLite keeps 64-bit signed integers: fold into 63 bits. */
	*h &= 0x7fffffffffffffffull;
	return (0);
}

static bool
text_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			return (false);
		}
	}
	return (true);
}

/* Appends a CSV field, quoted, to buf at *at (room checked by the caller
 * having sized buf for the worst case). */
static void
put_field(char *buf, size_t *at, const char *s, bool last)
{
	buf[(*at)++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"') {
			buf[(*at)++] = '"';
		}
		buf[(*at)++] = *s;
	}
	buf[(*at)++] = '"';
	buf[(*at)++] = last ? '\n' : ',';
}

/*
 * Checks a batch exactly as `offstatd import` checks a file: the rows are
 * written out as an open data file and read back by the same parser.
 * Returns 0 with *f holding the good rows when every row is good, 1 with
 * the status set (one detail per bad row) when any is bad, -1 when out of
 * memory.
 */
static int
check_rows(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in, od_file *f)
{
	size_t cap = sizeof(OD_HEADER) + 1;
	size_t at  = 0;
	char  *buf;
	int    rv;

	for (size_t i = 0; i < in->n_rows; i++) {
		const Offstat__V1__IngestRow *r = in->rows[i];
		cap += 2 * (strlen(r->financial_year) + strlen(r->force_name) +
		            strlen(r->offence_description) +
		            strlen(r->offence_group) +
		            strlen(r->offence_subgroup) +
		            strlen(r->offence_code)) +
		       8 * 3 + 2 * 24;
	}
	if ((buf = malloc(cap)) == NULL) {
		return (-1);
	}
	memcpy(buf, OD_HEADER "\n", sizeof(OD_HEADER));
	at = sizeof(OD_HEADER);
	for (size_t i = 0; i < in->n_rows; i++) {
		const Offstat__V1__IngestRow *r = in->rows[i];
		char                          q[16], c[24];
		snprintf(q, sizeof(q), "%u", r->financial_quarter);
		snprintf(c, sizeof(c), "%llu", (unsigned long long)r->count);
		put_field(buf, &at, r->financial_year, false);
		put_field(buf, &at, q, false);
		put_field(buf, &at, r->force_name, false);
		put_field(buf, &at, r->offence_description, false);
		put_field(buf, &at, r->offence_group, false);
		put_field(buf, &at, r->offence_subgroup, false);
		put_field(buf, &at, r->offence_code, false);
		put_field(buf, &at, c, true);
	}
	rv = od_parse(buf, at, import_resolve_force, ctx->snap, f);
	free(buf);
	if (rv != 0) {
		return (-1); /* the header is ours: only memory can fail */
	}
	if (f->nbad == 0 && f->nrows == in->n_rows) {
		return (0);
	}
	rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
	          "%zu of %zu rows are bad; nothing in this batch was applied "
	          "and the release stays open for a corrected batch",
	          f->nbad > 0 ? f->nbad : in->n_rows - f->nrows, in->n_rows);
	for (size_t i = 0; i < f->nerrors; i++) {
		unsigned line;
		int      skip = 0;
		/* "line N: why" of the file is row N - 1 of the batch. */
		if (sscanf(f->errors[i], "line %u: %n", &line, &skip) == 1 &&
		    skip > 0 && line >= 2) {
			rpc_detail(ctx, "row %u: %s", line - 1,
			           f->errors[i] + skip);
		} else {
			rpc_detail(ctx, "%s", f->errors[i]);
		}
	}
	if (f->nbad > f->nerrors) {
		rpc_detail(ctx, "and %zu more bad rows", f->nbad - f->nerrors);
	}
	return (1);
}

/* The release a write names, which must be open and the caller's.
 * 0, or -1 with the status set. */
static int
writable(rpc_ctx *ctx, uint64_t id, store_release *r)
{
	char err[256];
	int  rc;

	if (id == 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "name the release to write to");
		return (-1);
	}
	if ((rc = store_release_get(G.st, id, r, err, sizeof(err))) != 0) {
		rpc_error(ctx,
		          rc > 0 ? OFFSTAT__V1__CODE__NOT_FOUND
		                 : OFFSTAT__V1__CODE__INTERNAL,
		          "%s", err);
		return (-1);
	}
	if (r->state != RELEASE_OPEN) {
		rpc_error(ctx, OFFSTAT__V1__CODE__FAILED_PRECONDITION,
		          "release %llu is %s, not open",
		          (unsigned long long)id, state_name(r->state));
		return (-1);
	}
	pthread_mutex_lock(&G.mlock);
	bool mine = ctx->role >= AUTH_ADMIN;
	for (size_t i = 0; !mine && i < G.nrels; i++) {
		if (G.rels[i].id == id) {
			mine = strcmp(G.rels[i].loaded_by, ctx->token_id) == 0;
		}
	}
	pthread_mutex_unlock(&G.mlock);
	if (!mine) {
		rpc_error(ctx, OFFSTAT__V1__CODE__PERMISSION_DENIED,
		          "release %llu was opened with another token; only "
		          "its writer or an admin may change it",
		          (unsigned long long)id);
		return (-1);
	}
	return (0);
}

/* Fills the totals of release id into out. */
static void
describe(uint64_t id, Offstat__V1__IngestResponse *out)
{
	store_release r;
	char          err[256];

	out->release = id;
	if (store_release_get(G.st, id, &r, err, sizeof(err)) == 0) {
		out->state   = (Offstat__V1__ReleaseState)r.state;
		out->rows    = r.rows;
		out->changed = r.changed;
	}
}

static char *
served(rpc_ctx *ctx)
{
	snapshot *cur = snapshot_current();
	char     *s   = arena_printf(&ctx->mem, "%llu",
	                             (unsigned long long)(cur ? cur->release
	                                                        : 0));
	snapshot_unref(cur);
	return (s);
}

/* Records the reply under the request's key, inside the transaction. */
static int
remember(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in, uint64_t hash,
         const Offstat__V1__IngestResponse *out, char *err, size_t errlen)
{
	size_t   n   = offstat__v1__ingest_response__get_packed_size(out);
	uint8_t *buf = arena_alloc(&ctx->mem, n > 0 ? n : 1);

	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	n = offstat__v1__ingest_response__pack(out, buf);
	return (store_key_put(G.st, ctx->token_id, in->idempotency_key, hash,
	                      buf, n, err, errlen));
}

/* Answers a retry from the reply recorded under its key: 1 when it was
 * one (or the key was misused: status set), 0 when the key is new, -1
 * on a store failure (status set). */
static int
replay(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in, uint64_t hash,
       Offstat__V1__IngestResponse *out)
{
	uint64_t had;
	void    *blob;
	size_t   len;
	char     err[256];
	int      rc;

	rc = store_key_get(G.st, ctx->token_id, in->idempotency_key, &had,
	                   &blob, &len, err, sizeof(err));
	if (rc > 0) {
		return (0);
	}
	if (rc < 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INTERNAL, "%s", err);
		return (-1);
	}
	if (had != hash) {
		free(blob);
		rpc_error(ctx, OFFSTAT__V1__CODE__FAILED_PRECONDITION,
		          "idempotency key '%.64s' was already used for a "
		          "different request; use a new key for a new write",
		          in->idempotency_key);
		return (1);
	}
	Offstat__V1__IngestResponse *first =
	        offstat__v1__ingest_response__unpack(NULL, len, blob);
	free(blob);
	if (first == NULL) {
		rpc_error(ctx, OFFSTAT__V1__CODE__DATA_LOSS,
		          "the reply kept for key '%.64s' is unreadable",
		          in->idempotency_key);
		return (-1);
	}
	out->release       = first->release;
	out->rows_accepted = first->rows_accepted;
	out->state         = first->state;
	out->rows          = first->rows;
	out->changed       = first->changed;
	out->replayed      = true;
	offstat__v1__ingest_response__free_unpacked(first, NULL);
	count(&G.tot.replays, 1);
	return (1);
}

static int
do_open(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in, uint64_t hash,
        Offstat__V1__IngestResponse *out)
{
	const char *label  = in->open_label;
	const char *source = in->source[0] ? in->source : IMPORT_DEFAULT_SOURCE;
	char        err[512];
	uint64_t    id;

	if (label[0] == '\0' || strlen(label) > INGEST_MAX_LABEL ||
	    !text_ok(label)) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "a release label must be 1 to %d bytes of text",
		          INGEST_MAX_LABEL);
		return (-1);
	}
	if (snapshot_source_by_id(ctx->snap, source) < 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__NOT_FOUND,
		          "unknown source '%.64s' (see ListSources)", source);
		return (-1);
	}
	if (store_begin(G.st, err, sizeof(err)) != 0 ||
	    store_release_open(G.st, label, source, ctx->token_id, &id, err,
	                       sizeof(err)) != 0) {
		goto fail;
	}
	out->release = id;
	out->state   = OFFSTAT__V1__RELEASE_STATE__RELEASE_OPEN;
	if (remember(ctx, in, hash, out, err, sizeof(err)) != 0 ||
	    store_commit(G.st, err, sizeof(err)) != 0) {
		goto fail;
	}
	log_info("release opened", "release=%llu source=%s by=%s",
	         (unsigned long long)id, source, ctx->token_id);
	return (0);
fail:
	store_rollback(G.st);
	rpc_error(ctx, OFFSTAT__V1__CODE__INTERNAL, "opening a release: %s",
	          err);
	return (-1);
}

static int
do_batch(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in, uint64_t hash,
         Offstat__V1__IngestResponse *out)
{
	store_release r;
	od_file       f = {0};
	char          err[512];
	int64_t       changes;
	int           rc;

	if (in->n_rows > INGEST_MAX_ROWS) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "a batch may hold at most %d rows; this one has %zu",
		          INGEST_MAX_ROWS, in->n_rows);
		return (-1);
	}
	if (writable(ctx, in->release, &r) != 0) {
		return (-1);
	}
	const char *source = in->source[0] ? in->source : r.source;
	if (snapshot_source_by_id(ctx->snap, source) < 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__NOT_FOUND,
		          "unknown source '%.64s' (see ListSources)", source);
		return (-1);
	}
	if ((rc = check_rows(ctx, in, &f)) != 0) {
		od_file_free(&f);
		if (rc < 0) {
			rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
			          "out of memory checking the batch");
		} else {
			count(&G.tot.rejected, 1);
		}
		return (-1);
	}
	if (store_begin(G.st, err, sizeof(err)) != 0 ||
	    store_release_use(G.st, r.id, err, sizeof(err)) != 0 ||
	    import_rows(G.st, ctx->snap, &f, source, "batch", &changes, err,
	                sizeof(err)) != 0 ||
	    store_release_add(G.st, r.id, f.nrows, changes, err,
	                      sizeof(err)) != 0) {
		goto fail;
	}
	describe(r.id, out);
	out->rows_accepted = f.nrows;
	if (remember(ctx, in, hash, out, err, sizeof(err)) != 0 ||
	    store_commit(G.st, err, sizeof(err)) != 0) {
		goto fail;
	}
	od_file_free(&f);
	count(&G.tot.batches, 1);
	count(&G.tot.rows, in->n_rows);
	log_debug("batch written", "release=%llu rows=%zu changed=%lld",
	          (unsigned long long)r.id, in->n_rows, (long long)changes);
	return (0);
fail:
	store_rollback(G.st);
	od_file_free(&f);
	rpc_error(ctx, OFFSTAT__V1__CODE__INTERNAL, "writing the batch: %s",
	          err);
	return (-1);
}

static int
do_finish(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in, uint64_t hash,
          bool commit, Offstat__V1__IngestResponse *out)
{
	uint64_t      id = commit ? in->commit_release : in->abort_release;
	store_release r;
	uint64_t      seq;
	char          err[512];

	if (in->n_rows > 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "send rows in their own batch, not with a %s",
		          commit ? "commit" : "abort");
		return (-1);
	}
	if (writable(ctx, id, &r) != 0) {
		return (-1);
	}
	if (store_begin(G.st, err, sizeof(err)) != 0 ||
	    (commit ? store_release_commit(G.st, id, &seq, err, sizeof(err))
	            : store_release_drop(G.st, id, RELEASE_ABORTED, err,
	                                 sizeof(err))) != 0) {
		goto fail;
	}
	describe(id, out);
	if (remember(ctx, in, hash, out, err, sizeof(err)) != 0 ||
	    store_commit(G.st, err, sizeof(err)) != 0) {
		goto fail;
	}
	if (commit) {
		/* Readers move to the new release all at once; calls in
		 * flight finish on the snapshot they hold. */
		republish();
		count(&G.tot.commits, 1);
		log_info("release committed",
		         "release=%llu sequence=%llu rows=%llu changed=%llu",
		         (unsigned long long)id, (unsigned long long)seq,
		         (unsigned long long)out->rows,
		         (unsigned long long)out->changed);
	} else {
		count(&G.tot.aborts, 1);
		log_info("release aborted", "release=%llu",
		         (unsigned long long)id);
	}
	return (0);
fail:
	store_rollback(G.st);
	rpc_error(ctx, OFFSTAT__V1__CODE__INTERNAL, "%s release %llu: %s",
	          commit ? "committing" : "aborting", (unsigned long long)id,
	          err);
	return (-1);
}

int
ingest_handle(rpc_ctx *ctx, const Offstat__V1__IngestRequest *in,
              Offstat__V1__IngestResponse *out)
{
	uint64_t hash;
	char     err[256];
	int      rv = -1;

	if (in->idempotency_key[0] == '\0' ||
	    strlen(in->idempotency_key) > INGEST_MAX_KEY ||
	    !text_ok(in->idempotency_key)) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "every write needs an idempotency_key of 1 to %d "
		          "bytes of text",
		          INGEST_MAX_KEY);
		return (-1);
	}
	if (in->action_case == OFFSTAT__V1__INGEST_REQUEST__ACTION__NOT_SET &&
	    (in->release == 0 || in->n_rows == 0)) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "say what to do: open_label, rows with their "
		          "release, commit_release or abort_release");
		return (-1);
	}
	if (request_hash(ctx, in, &hash) != 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "out of memory");
		return (-1);
	}
	pthread_mutex_lock(&G.wlock);
	if (G.st == NULL) {
		pthread_mutex_unlock(&G.wlock);
		rpc_error(ctx, OFFSTAT__V1__CODE__UNAVAILABLE,
		          "this service takes no writes");
		return (-1);
	}
	int rc = replay(ctx, in, hash, out);
	if (rc != 0) {
		rv = rc > 0 && ctx->code == OFFSTAT__V1__CODE__OK ? 0 : -1;
	} else {
		switch (in->action_case) {
		case OFFSTAT__V1__INGEST_REQUEST__ACTION_OPEN_LABEL:
			rv = do_open(ctx, in, hash, out);
			break;
		case OFFSTAT__V1__INGEST_REQUEST__ACTION_COMMIT_RELEASE:
			rv = do_finish(ctx, in, hash, true, out);
			break;
		case OFFSTAT__V1__INGEST_REQUEST__ACTION_ABORT_RELEASE:
			rv = do_finish(ctx, in, hash, false, out);
			break;
		default:
			rv = do_batch(ctx, in, hash, out);
			break;
		}
		if (mirror_reload(err, sizeof(err)) != 0) {
			log_error("reading the releases failed",
			          "error=\"%s\"", err);
		}
	}
	pthread_mutex_unlock(&G.wlock);
	if (rv == 0) {
		out->served_release = served(ctx);
	}
	return (rv);
}

/* ---- ListReleases --------------------------------------------------- */

static Offstat__V1__Release *
release_msg(rpc_ctx *ctx, const rel *r)
{
	Offstat__V1__Release *m = arena_alloc(&ctx->mem, sizeof(*m));
	if (m == NULL) {
		return (NULL);
	}
	offstat__v1__release__init(m);
	m->id           = r->id;
	m->label        = arena_strdup(&ctx->mem, r->label);
	m->source_id    = arena_strdup(&ctx->mem, r->source);
	m->state        = (Offstat__V1__ReleaseState)r->state;
	m->opened_at    = arena_strdup(&ctx->mem, r->opened_at);
	m->committed_at = arena_strdup(&ctx->mem, r->committed_at);
	m->loaded_by    = arena_strdup(&ctx->mem, r->loaded_by);
	m->rows         = r->rows;
	m->changed      = r->changed;
	m->sequence     = r->seq;
	if (m->label == NULL || m->source_id == NULL || m->opened_at == NULL ||
	    m->committed_at == NULL || m->loaded_by == NULL) {
		return (NULL);
	}
	return (m);
}

int
ingest_releases(rpc_ctx *ctx, bool all, Offstat__V1__Release ***out,
                size_t *n)
{
	const snapshot *snap = ctx->snap;

	*n = 0;
	if (all && ctx->role < AUTH_WRITER) {
		rpc_error(ctx, OFFSTAT__V1__CODE__PERMISSION_DENIED,
		          "listing releases that are not committed needs a "
		          "writer or admin token");
		return (-1);
	}
	pthread_mutex_lock(&G.mlock);
	if (G.st == NULL) {
		/* No writer: the committed releases the snapshot knows. */
		pthread_mutex_unlock(&G.mlock);
		*out = arena_calloc(&ctx->mem, snap->nreleases + 1,
		                    sizeof(**out));
		for (size_t i = snap->nreleases; *out != NULL && i-- > 0;) {
			const snap_release *s = &snap->releases[i];
			rel                 r = {
			                        .id           = s->id,
			                        .label        = (char *)s->label,
			                        .source       = (char *)s->source,
			                        .state        = RELEASE_COMMITTED,
			                        .opened_at    = (char *)"",
			                        .committed_at = (char *)s->committed_at,
			                        .loaded_by    = (char *)"",
			                        .seq          = s->seq,
                        };
			if (((*out)[*n] = release_msg(ctx, &r)) == NULL) {
				goto oom;
			}
			(*n)++;
		}
		return (*out != NULL ? 0 : -1);
	}
	*out = arena_calloc(&ctx->mem, G.nrels + 1, sizeof(**out));
	for (size_t i = G.nrels; *out != NULL && i-- > 0;) {
		if (!all && G.rels[i].state != RELEASE_COMMITTED) {
			continue;
		}
		if (((*out)[*n] = release_msg(ctx, &G.rels[i])) == NULL) {
			pthread_mutex_unlock(&G.mlock);
			goto oom;
		}
		(*n)++;
	}
	pthread_mutex_unlock(&G.mlock);
	if (*out == NULL) {
		goto oom;
	}
	return (0);
oom:
	rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
	          "out of memory building the reply");
	return (-1);
}
