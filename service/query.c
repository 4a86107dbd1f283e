#include "query.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

/* A figure while it is being worked out, before it becomes a message. */
typedef struct {
	bool              present;
	uint64_t          count;
	unsigned          flags;
	int               source; /* -1: several or none */
	const char       *note;
	const snap_entry *alts; /* other entries of the cell */
	size_t            nalts;
	int      method; /* Coverage method; 0 when not an aggregate */
	unsigned expected;
	unsigned got;
	int     *missing;
	size_t   nmissing;
	/* The population the figure covers, for rates; 0 when unknown. */
	uint64_t    pop;
	uint64_t    pop_u18;
	const char *pop_source;
} qv;

/*
 * Figures of one offence and source, as of one release, for two periods
 * (a trend's base and end), by area: direct() results a reply has already
 * worked out. A comparison asks for each member of a region, then again
 * for each member of the country around it, and so on up.
 */
struct q_memo {
	int      offence;
	int      source;
	uint64_t as_of;
	period   p[2];
	qv     **v[2]; /* per area; NULL until worked out */
};

int
q_sources_init(rpc_ctx *ctx, q_sources *qs)
{
	qs->used = arena_calloc(&ctx->mem, ctx->snap->nsources + 1, 1);
	qs->memo = NULL;
	return (qs->used != NULL ? 0 : -1);
}

static void
use_source(q_sources *qs, int source)
{
	if (qs != NULL && source >= 0) {
		qs->used[source] = true;
	}
}

Offstat__V1__Source **
q_sources_list(rpc_ctx *ctx, const q_sources *qs, size_t *n)
{
	const snapshot       *snap = ctx->snap;
	Offstat__V1__Source **v;

	*n = 0;
	v  = arena_calloc(&ctx->mem, snap->nsources + 1, sizeof(*v));
	if (v == NULL) {
		return (NULL);
	}
	for (size_t i = 0; i < snap->nsources; i++) {
		if (qs->used[i]) {
			v[(*n)++] = q_source_msg(ctx, (int)i);
		}
	}
	return (v);
}

int
q_find_area(rpc_ctx *ctx, const char *name, const char *what)
{
	int i;
	if (name == NULL || name[0] == '\0') {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "%s is required", what);
		return (-1);
	}
	if ((i = snapshot_find_area(ctx->snap, name)) < 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__NOT_FOUND,
		          "unknown area '%.100s'", name);
		return (-1);
	}
	return (i);
}

int
q_find_offence(rpc_ctx *ctx, const char *name)
{
	int    cands[8];
	size_t n;
	int    i;

	if (name == NULL || name[0] == '\0') {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "offence is required");
		return (-1);
	}
	i = snapshot_find_offence(ctx->snap, name, cands, 8, &n);
	if (i == -1) {
		rpc_error(ctx, OFFSTAT__V1__CODE__NOT_FOUND,
		          "unknown offence '%.100s'", name);
		return (-1);
	}
	if (i == -2) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "offence '%.100s' matches %zu offences; use a code",
		          name, n);
		for (size_t k = 0; k < n && k < 8; k++) {
			const snap_offence *o = &ctx->snap->offences[cands[k]];
			rpc_detail(ctx, "%s: %s", o->code, o->description);
		}
		return (-1);
	}
	return (i);
}

int
q_find_source(rpc_ctx *ctx, const char *id)
{
	int i;
	if (id == NULL || id[0] == '\0') {
		return (-1);
	}
	if ((i = snapshot_source_by_id(ctx->snap, id)) < 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__NOT_FOUND,
		          "unknown source '%.100s'", id);
		return (-2);
	}
	return (i);
}

int
q_period(rpc_ctx *ctx, const Offstat__V1__Period *in, const char *what,
         bool required, period *out)
{
	if (in == NULL || (in->text[0] == '\0' && in->year == 0 &&
	                   in->quarter == 0 && in->kind == 0)) {
		if (required) {
			rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
			          "%s period is required", what);
			return (-1);
		}
		return (1);
	}
	if (in->text[0] != '\0') {
		if (period_parse(in->text, out) != 0) {
			rpc_error(
			        ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
			        "%s period '%.40s' is not a period such as "
			        "2017/18, 2024/25 Q1 or year ending June 2024",
			        what, in->text);
			return (-1);
		}
		return (0);
	}
	if (period_make(in->year, in->quarter, (unsigned)in->kind, out) != 0) {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "%s period (year %u, quarter %u, kind %d) is not "
		          "valid: "
		          "years run %d to %d, quarters 1 to 4",
		          what, in->year, in->quarter, (int)in->kind,
		          PERIOD_MIN_YEAR, PERIOD_MAX_YEAR);
		return (-1);
	}
	return (0);
}

/*
 * The label of every period the wire allows, made once: a series reply
 * labels dozens of periods, and formatting each costs more than the rest
 * of its point. Slot 0 of a year is the year, 1 to 4 its quarters, 5 to 8
 * the rolling years ending with them.
 */
#define LABEL_YEARS (PERIOD_MAX_YEAR - PERIOD_MIN_YEAR + 1)
static char           labels[LABEL_YEARS][9][PERIOD_LABEL_MAX];
static pthread_once_t labels_once = PTHREAD_ONCE_INIT;

static void
labels_make(void)
{
	for (int y = 0; y < LABEL_YEARS; y++) {
		for (int k = 0; k < 9; k++) {
			period p = {(uint16_t)(PERIOD_MIN_YEAR + y),
			            (uint8_t)(k == 0 ? 0 : (k - 1) % 4 + 1),
			            (uint8_t)(k == 0  ? PERIOD_YEAR
			                      : k < 5 ? PERIOD_QUARTER
			                              : PERIOD_ROLLING)};
			period_label(&p, labels[y][k], PERIOD_LABEL_MAX);
		}
	}
}

/* p's label: from the table when it holds p, else made in the arena. */
static char *
label_of(rpc_ctx *ctx, const period *p)
{
	char label[PERIOD_LABEL_MAX];
	int  k = -1;

	if (p->kind == PERIOD_YEAR && p->quarter == 0) {
		k = 0;
	} else if (p->quarter >= 1 && p->quarter <= 4) {
		k = p->kind == PERIOD_QUARTER   ? p->quarter
		    : p->kind == PERIOD_ROLLING ? 4 + p->quarter
		                                : -1;
	}
	if (k >= 0 && p->year >= PERIOD_MIN_YEAR &&
	    p->year <= PERIOD_MAX_YEAR) {
		(void)pthread_once(&labels_once, labels_make);
		return (labels[p->year - PERIOD_MIN_YEAR][k]);
	}
	return (arena_strdup(&ctx->mem,
	                     period_label(p, label, sizeof(label))));
}

Offstat__V1__Period *
q_period_msg(rpc_ctx *ctx, const period *p)
{
	Offstat__V1__Period *m = arena_alloc(&ctx->mem, sizeof(*m));
	if (m == NULL) {
		return (NULL);
	}
	offstat__v1__period__init(m);
	m->year    = p->year;
	m->quarter = p->quarter;
	m->kind    = (Offstat__V1__PeriodKind)p->kind;
	m->text    = label_of(ctx, p);
	return (m);
}

/*
 * Area, Offence and Source messages hold nothing but the snapshot's data,
 * so each is packed once per snapshot (on first use) and copied into
 * replies as bytes: an aggregate's Area lists up to 43 member codes, which
 * cost more to pack field by field than the rest of a count.
 */
typedef struct {
	size_t  len;
	uint8_t bytes[];
} q_packed;

typedef struct {
	size_t              n;
	_Atomic(q_packed *) v[];
} q_packed_set;

static void *
packed_make(void *arg)
{
	size_t        n = *(const size_t *)arg;
	q_packed_set *s = malloc(sizeof(*s) + n * sizeof(s->v[0]));

	if (s != NULL) {
		s->n = n;
		for (size_t i = 0; i < n; i++) {
			atomic_init(&s->v[i], NULL);
		}
	}
	return (s);
}

static void
packed_free(void *data)
{
	q_packed_set *s = data;

	for (size_t i = 0; i < s->n; i++) {
		free(atomic_load_explicit(&s->v[i], memory_order_relaxed));
	}
	free(s);
}

/* Registers m, item i of n in slot, with its bytes packed once. */
static void
prepack(rpc_ctx *ctx, int slot, size_t i, size_t n, const ProtobufCMessage *m)
{
	q_packed_set *set =
	        snapshot_slot(ctx->snap, slot, packed_make, packed_free, &n);
	q_packed      *p, *none = NULL;
	uint8_t       *base;
	const uint8_t *out;
	size_t         len;

	if (m == NULL || set == NULL || i >= set->n) {
		return;
	}
	p = atomic_load_explicit(&set->v[i], memory_order_acquire);
	if (p == NULL) {
		if (rpc_pack(NULL, m, &base, &out, &len) != 0) {
			return;
		}
		if ((p = malloc(sizeof(*p) + len)) == NULL) {
			free(base);
			return;
		}
		p->len = len;
		memcpy(p->bytes, out, len);
		free(base);
		if (!atomic_compare_exchange_strong_explicit(
		            &set->v[i], &none, p, memory_order_acq_rel,
		            memory_order_acquire)) {
			free(p);
			p = none;
		}
	}
	rpc_prepacked(ctx, m, p->bytes, p->len);
}

static char **
code_list(rpc_ctx *ctx, const int *idx, size_t n)
{
	char **v = arena_calloc(&ctx->mem, n + 1, sizeof(*v));
	for (size_t i = 0; v != NULL && i < n; i++) {
		v[i] = (char *)ctx->snap->areas[idx[i]].code;
	}
	return (v);
}

Offstat__V1__Area *
q_area_msg(rpc_ctx *ctx, int area)
{
	const snap_area   *a     = &ctx->snap->areas[area];
	Offstat__V1__Area *m     = arena_alloc(&ctx->mem, sizeof(*m));
	const snap_area   *areas = ctx->snap->areas;

	if (m == NULL) {
		return (NULL);
	}
	/* Snapshot strings outlive the call: no copies needed. */
	offstat__v1__area__init(m);
	m->code        = (char *)a->code;
	m->name        = (char *)a->name;
	m->kind        = (Offstat__V1__AreaKind)a->kind;
	m->parent_code = (char *)(a->parent >= 0 ? areas[a->parent].code : "");
	m->region_code = (char *)(a->region >= 0 ? areas[a->region].code : "");
	m->country_code =
	        (char *)(a->country >= 0 ? areas[a->country].code : "");
	m->n_aliases          = a->naliases;
	m->aliases            = (char **)a->aliases;
	m->population         = a->population;
	m->population_under18 = a->under18;
	m->population_source  = (char *)a->population_source;
	m->n_members          = a->nmembers;
	m->members            = code_list(ctx, a->members, a->nmembers);
	prepack(ctx, SNAP_SLOT_AREAS, (size_t)area, ctx->snap->nareas,
	        &m->base);
	return (m);
}

Offstat__V1__Offence *
q_offence_msg(rpc_ctx *ctx, int offence)
{
	const snap_offence   *o = &ctx->snap->offences[offence];
	Offstat__V1__Offence *m = arena_alloc(&ctx->mem, sizeof(*m));

	if (m == NULL) {
		return (NULL);
	}
	offstat__v1__offence__init(m);
	m->code        = (char *)o->code;
	m->description = (char *)o->description;
	m->group       = (char *)o->group;
	m->subgroup    = (char *)o->subgroup;
	m->note        = (char *)o->note;
	if (o->break_year != 0) {
		Offstat__V1__SeriesBreak *b =
		        arena_alloc(&ctx->mem, sizeof(*b));
		m->breaks = arena_alloc(&ctx->mem, sizeof(*m->breaks));
		if (b == NULL || m->breaks == NULL) {
			return (NULL);
		}
		offstat__v1__series_break__init(b);
		b->year      = o->break_year;
		b->note      = (char *)o->break_note;
		m->breaks[0] = b;
		m->n_breaks  = 1;
	}
	prepack(ctx, SNAP_SLOT_OFFENCES, (size_t)offence, ctx->snap->noffences,
	        &m->base);
	return (m);
}

Offstat__V1__Source *
q_source_msg(rpc_ctx *ctx, int source)
{
	const snap_source   *s = &ctx->snap->sources[source];
	Offstat__V1__Source *m = arena_alloc(&ctx->mem, sizeof(*m));

	if (m == NULL) {
		return (NULL);
	}
	offstat__v1__source__init(m);
	m->id        = (char *)s->id;
	m->title     = (char *)s->title;
	m->publisher = (char *)s->publisher;
	m->published = (char *)s->published;
	m->url       = (char *)s->url;
	m->kind      = (Offstat__V1__SourceKind)s->kind;
	m->note      = (char *)s->note;
	prepack(ctx, SNAP_SLOT_SOURCES, (size_t)source, ctx->snap->nsources,
	        &m->base);
	return (m);
}

/* ---- Finding figures ----------------------------------------------- */

/* Entries of one cell from the allowed source, best first. */
static const snap_entry *
cell(rpc_ctx *ctx, int area, int offence, const period *p, int source,
     size_t *n)
{
	const snap_entry *e = snapshot_cell_as_of(ctx->snap, (uint32_t)area,
	                                          (uint32_t)offence, p,
	                                          ctx->as_of, &ctx->mem, n);
	if (source < 0 || *n == 0) {
		return (e);
	}
	for (size_t i = 0; i < *n; i++) {
		if ((int)e[i].source == source) {
			*n = 1;
			return (&e[i]);
		}
	}
	*n = 0;
	return (NULL);
}

/* The figure stored for exactly this cell. */
static void
stored(rpc_ctx *ctx, int area, int offence, const period *p, int source, qv *v)
{
	size_t            n;
	const snap_entry *e = cell(ctx, area, offence, p, source, &n);

	memset(v, 0, sizeof(*v));
	v->source = -1;
	if (n == 0) {
		return;
	}
	v->present = true;
	v->count   = e[0].value;
	v->flags   = e[0].flags;
	v->source  = (int)e[0].source;
	v->note    = e[0].note;
	if (n > 1) {
		v->alts  = e + 1;
		v->nalts = n - 1;
		for (size_t i = 1; i < n; i++) {
			if (e[i].value != e[0].value) {
				v->flags |= FLAG_CONFLICT;
			}
		}
		if (v->flags & FLAG_CONFLICT) {
			const snap_source *s =
			        &ctx->snap->sources[e[0].source];
			v->note = arena_printf(&ctx->mem,
			                       "sources disagree; used %s "
			                       "(%s), the preferred "
			                       "figure%s%s",
			                       s->id, s->title,
			                       e[0].note[0] ? ": " : "",
			                       e[0].note);
		}
	}
}

/*
 * What a sum of quarters takes from each: stored() without the note and
 * the alternatives, which only a figure shown on its own needs.
 */
static bool
stored_part(rpc_ctx *ctx, int area, int offence, const period *p, int source,
            uint64_t *count, unsigned *flags, int *src)
{
	size_t            n;
	const snap_entry *e = cell(ctx, area, offence, p, source, &n);

	if (n == 0) {
		return (false);
	}
	*count = e[0].value;
	*flags = e[0].flags;
	*src   = (int)e[0].source;
	for (size_t i = 1; i < n; i++) {
		if (e[i].value != e[0].value) {
			*flags |= FLAG_CONFLICT;
		}
	}
	return (true);
}

/* Adds a part to sum; the sum keeps one source only while all agree. */
static void
accumulate(qv *sum, uint64_t count, unsigned flags, int source, bool first)
{
	sum->count += count;
	sum->flags |=
	        flags & (FLAG_PROVISIONAL | FLAG_REVISED | FLAG_ESTIMATED |
	                 FLAG_CONFLICT | FLAG_INCOMPLETE);
	if (first) {
		sum->source = source;
	} else if (sum->source != source) {
		sum->source = -1;
	}
	sum->present = true;
}

/*
 * "sum of 3 of 4 quarters (Q1, 2, 4)" for the quarters in have (bit i:
 * quarter i + 1). Only part-years need it, so the common case of four
 * quarters formats nothing.
 */
static const char *
part_year_note(rpc_ctx *ctx, const period *p, unsigned got, unsigned have)
{
	char   which[16];
	size_t l = 0;

	for (int i = 0; i < 4; i++) {
		if (have & (1u << i)) {
			if (l > 0) {
				which[l++] = ',';
				which[l++] = ' ';
			}
			which[l++] = (char)('1' + i);
		}
	}
	which[l] = '\0';
	return (arena_printf(&ctx->mem, "sum of %u of 4 quarters (%s%s)", got,
	                     p->kind == PERIOD_YEAR ? "Q" : "quarters ",
	                     which));
}

/* Whether the snapshot's own table of figures may be read (tests turn it
 * off to compare both ways). */
static atomic_bool no_tables;

void
q_use_tables(bool on)
{
	atomic_store_explicit(&no_tables, !on, memory_order_relaxed);
}

/*
 * snapshot_direct() for this call, when it answers it: over every source,
 * as the newest release has it. NULL: work the figure out from the cells.
 */
static const snap_direct *
table(rpc_ctx *ctx, int area, int offence, const period *p, int source)
{
	if (source >= 0 || (ctx->as_of != 0 && ctx->as_of < ctx->snap->seq) ||
	    atomic_load_explicit(&no_tables, memory_order_relaxed)) {
		return (NULL);
	}
	return (snapshot_direct(ctx->snap, (uint32_t)area, (uint32_t)offence,
	                        p));
}

/*
 * A cell's figure, or for a year or rolling year without one, the sum of
 * its quarters. A part-year sum is present but INCOMPLETE.
 */
static void
direct(rpc_ctx *ctx, int area, int offence, const period *p, int source, qv *v)
{
	period             q[4];
	unsigned           got  = 0;
	unsigned           have = 0; /* bit i: quarter i + 1 has a figure */
	const snap_direct *d;

	/* A year from the table: its quarters were summed once, when the
	 * snapshot was made. A stored cell is read below for its note and
	 * alternatives. */
	if (p->kind == PERIOD_YEAR &&
	    (d = table(ctx, area, offence, p, source)) != NULL &&
	    d->kind != SNAP_DIRECT_STORED) {
		memset(v, 0, sizeof(*v));
		v->source = -1;
		if (d->kind == SNAP_DIRECT_QUARTERS) {
			v->present = true;
			v->count   = d->count;
			v->flags   = d->flags;
			v->source  = d->source;
			v->note =
			        d->have == 0xf
			                ? "sum of 4 quarters"
			                : part_year_note(
			                          ctx, p,
			                          (unsigned)__builtin_popcount(
			                                  d->have),
			                          d->have);
		}
		return;
	}
	stored(ctx, area, offence, p, source, v);
	if (v->present || p->kind == PERIOD_QUARTER) {
		return;
	}
	if (p->kind == PERIOD_ROLLING && p->quarter == 4) {
		/* The year ending March is the financial year. */
		period y = {.year = p->year, .kind = PERIOD_YEAR};
		stored(ctx, area, offence, &y, source, v);
		if (v->present) {
			return;
		}
	}
	for (int i = 0; i < 4; i++) {
		if (p->kind == PERIOD_YEAR) {
			q[i] = (period){p->year, (uint8_t)(i + 1),
			                PERIOD_QUARTER};
		} else {
			/* The four quarters ending with p's. */
			int idx = period_qindex(p->year, p->quarter) - 3 + i;
			q[i]    = (period){(uint16_t)(idx / 4),
			                   (uint8_t)(idx % 4 + 1),
			                   PERIOD_QUARTER};
		}
	}
	qv sum;
	memset(&sum, 0, sizeof(sum));
	sum.source = -1;
	for (int i = 0; i < 4; i++) {
		uint64_t count;
		unsigned flags;
		int      src;
		if (stored_part(ctx, area, offence, &q[i], source, &count,
		                &flags, &src)) {
			accumulate(&sum, count, flags, src, got == 0);
			got++;
			have |= 1u << i;
		}
	}
	if (got == 0) {
		return;
	}
	*v = sum;
	if (got < 4) {
		v->flags |= FLAG_INCOMPLETE;
		v->note = part_year_note(ctx, p, got, have);
	} else {
		v->note = "sum of 4 quarters";
	}
}

/* period_equal(), inline: the memo compares periods on every lookup. */
static inline bool
same_period(const period *a, const period *b)
{
	return (a->year == b->year && a->quarter == b->quarter &&
	        a->kind == b->kind);
}

/* Starts the memo of qs for a trend of offence from base to end. */
static void
memo_start(rpc_ctx *ctx, q_sources *qs, int offence, const period *base,
           const period *end, int source)
{
	struct q_memo *m = qs != NULL ? qs->memo : NULL;
	size_t         n = ctx->snap->nareas;

	if (qs == NULL) {
		return;
	}
	if (m != NULL && m->offence == offence && m->source == source &&
	    m->as_of == ctx->as_of && same_period(&m->p[0], base) &&
	    same_period(&m->p[1], end)) {
		return;
	}
	/* Another comparison: start afresh (the old memo stays in the
	 * arena until the reply is done). */
	if ((m = arena_alloc(&ctx->mem, sizeof(*m))) == NULL ||
	    (m->v[0] = arena_calloc(&ctx->mem, n + 1, sizeof(qv *))) == NULL ||
	    (m->v[1] = arena_calloc(&ctx->mem, n + 1, sizeof(qv *))) == NULL) {
		qs->memo = NULL;
		return;
	}
	m->offence = offence;
	m->source  = source;
	m->as_of   = ctx->as_of;
	m->p[0]    = *base;
	m->p[1]    = *end;
	qs->memo   = m;
}

/*
 * direct(), through the memo of qs when it holds this figure's kind: the
 * figure, in the arena, or NULL when out of memory.
 */
static const qv *
direct_ref(rpc_ctx *ctx, q_sources *qs, int area, int offence, const period *p,
           int source)
{
	struct q_memo *m = qs != NULL ? qs->memo : NULL;
	int            i = -1;
	qv            *c;

	if (m != NULL && m->offence == offence && m->source == source &&
	    m->as_of == ctx->as_of) {
		i = same_period(&m->p[0], p)   ? 0
		    : same_period(&m->p[1], p) ? 1
		                               : -1;
	}
	if (i >= 0 && m->v[i][area] != NULL) {
		return (m->v[i][area]);
	}
	if ((c = arena_alloc_raw(&ctx->mem, sizeof(*c))) == NULL) {
		return (NULL);
	}
	direct(ctx, area, offence, p, source, c);
	if (i >= 0) {
		m->v[i][area] = c;
	}
	return (c);
}

/* direct_ref() into v. */
static void
direct_memo(rpc_ctx *ctx, q_sources *qs, int area, int offence,
            const period *p, int source, qv *v)
{
	const qv *c = direct_ref(ctx, qs, area, offence, p, source);
	if (c != NULL) {
		*v = *c;
	} else {
		direct(ctx, area, offence, p, source, v);
	}
}

static bool
is_aggregate(const snap_area *a)
{
	return (a->nmembers > 0);
}

/* Starts v as the sum over the members of aggregate a. */
static void
member_start(rpc_ctx *ctx, const snap_area *a, qv *v)
{
	memset(v, 0, sizeof(*v));
	v->source   = -1;
	v->method   = OFFSTAT__V1__COVERAGE__METHOD__SUM_OF_MEMBERS;
	v->expected = (unsigned)a->nmembers;
	v->missing  = arena_calloc(&ctx->mem, a->nmembers, sizeof(int));
}

/* Adds member k of a, whose figure is count, flags and source when
 * present (else it is left out), to v. */
static void
member_add_part(rpc_ctx *ctx, const snap_area *a, size_t k, bool present,
                uint64_t count, unsigned flags, int source, qv *v)
{
	if (present) {
		const snap_area *m = &ctx->snap->areas[a->members[k]];
		accumulate(v, count, flags, source, v->got == 0);
		/* A rate needs every contributing member's population; one
		 * unknown makes the sum's unknown. */
		if (v->got == 0) {
			v->pop        = m->population;
			v->pop_u18    = m->under18;
			v->pop_source = m->population_source;
		} else if (m->population == 0 || v->pop == 0) {
			v->pop = v->pop_u18 = 0;
		} else {
			v->pop += m->population;
			v->pop_u18 += m->under18;
		}
		v->got++;
	} else if (v->missing != NULL) {
		v->missing[v->nmissing++] = a->members[k];
	}
}

/* Adds member k of a, whose figure is part (NULL: left out), to v. */
static void
member_add(rpc_ctx *ctx, const snap_area *a, size_t k, const qv *part, qv *v)
{
	if (part != NULL && part->present) {
		member_add_part(ctx, a, k, true, part->count, part->flags,
		                part->source, v);
	} else {
		member_add_part(ctx, a, k, false, 0, 0, -1, v);
	}
}

/* member_add() of a figure from the snapshot's table (NULL: left out). */
static void
member_add_direct(rpc_ctx *ctx, const snap_area *a, size_t k,
                  const snap_direct *d, qv *v)
{
	if (d != NULL && d->kind != SNAP_DIRECT_NONE) {
		member_add_part(ctx, a, k, true, d->count, d->flags, d->source,
		                v);
	} else {
		member_add_part(ctx, a, k, false, 0, 0, -1, v);
	}
}

static void
member_end(qv *v)
{
	if (v->got > 0 && v->nmissing > 0) {
		v->flags |= FLAG_INCOMPLETE;
	}
}

/* The sum over an aggregate's members. */
static void
member_sum(rpc_ctx *ctx, int area, int offence, const period *p, int source,
           qv *v)
{
	const snap_area *a = &ctx->snap->areas[area];

	member_start(ctx, a, v);
	for (size_t k = 0; k < a->nmembers; k++) {
		const snap_direct *d =
		        table(ctx, a->members[k], offence, p, source);
		qv part;
		if (d != NULL) {
			member_add_direct(ctx, a, k, d, v);
			continue;
		}
		direct(ctx, a->members[k], offence, p, source, &part);
		member_add(ctx, a, k, &part, v);
	}
	member_end(v);
}

/* A figure stored for the area itself covers the area's population. */
static void
own_population(rpc_ctx *ctx, int area, qv *v)
{
	const snap_area *a = &ctx->snap->areas[area];
	v->pop             = a->population;
	v->pop_u18         = a->under18;
	v->pop_source      = a->population_source;
}

/* Flags that depend on the figure and the offence, not on its source. */
static void
finish(rpc_ctx *ctx, int offence, const period *p, qv *v)
{
	const snap_offence *o = &ctx->snap->offences[offence];
	if (!v->present) {
		return;
	}
	if (v->count < 10) {
		v->flags |= FLAG_SMALL_NUMBER;
	}
	if (o->break_year != 0 && p->year < o->break_year) {
		v->flags |= FLAG_SERIES_BREAK;
	}
}

static void
resolve(rpc_ctx *ctx, int area, int offence, const period *p, int source,
        qv *v)
{
	direct(ctx, area, offence, p, source, v);
	own_population(ctx, area, v);
	if (is_aggregate(&ctx->snap->areas[area])) {
		if (v->present) {
			v->method = OFFSTAT__V1__COVERAGE__METHOD__PUBLISHED;
			v->expected =
			        (unsigned)ctx->snap->areas[area].nmembers;
			v->got = v->expected;
		} else {
			member_sum(ctx, area, offence, p, source, v);
		}
	}
	finish(ctx, offence, p, v);
}

static Offstat__V1__Flag *
flag_list(rpc_ctx *ctx, unsigned flags, size_t *n)
{
	Offstat__V1__Flag *f =
	        arena_calloc(&ctx->mem, FLAG_LAST + 1, sizeof(*f));
	*n = 0;
	for (int i = FLAG_FIRST; f != NULL && i <= FLAG_LAST; i++) {
		if (flags & (1u << i)) {
			f[(*n)++] = (Offstat__V1__Flag)i;
		}
	}
	return (f);
}

/*
 * A rate per 100,000 with the exact Poisson interval of its count, whose
 * bounds (ci[0], ci[1]) the caller worked out once for both populations;
 * ci is NULL when they could not be.
 */
static Offstat__V1__Rate *
rate_msg(rpc_ctx *ctx, const qv *v, uint64_t pop, const double *ci)
{
	Offstat__V1__Rate *r = arena_alloc(&ctx->mem, sizeof(*r));
	double             lo, hi;

	if (r == NULL) {
		return (NULL);
	}
	offstat__v1__rate__init(r);
	if (!v->present || pop == 0 || ci == NULL) {
		return (r);
	}
	lo                   = ci[0];
	hi                   = ci[1];
	r->known             = true;
	r->population        = pop;
	r->population_source = (char *)(v->pop_source ? v->pop_source : "");
	r->per_100k          = stats_rate(v->count, pop, 100000.0);
	r->lower             = lo / (double)pop * 100000.0;
	r->upper             = hi / (double)pop * 100000.0;
	return (r);
}

static Offstat__V1__Value *
value_msg(rpc_ctx *ctx, const period *p, const qv *v, q_sources *qs)
{
	Offstat__V1__Value *m = arena_alloc(&ctx->mem, sizeof(*m));
	if (m == NULL) {
		return (NULL);
	}
	offstat__v1__value__init(m);
	m->period  = q_period_msg(ctx, p);
	m->present = v->present;
	m->count   = v->count;
	m->flags   = flag_list(ctx, v->flags, &m->n_flags);
	m->note    = (char *)(v->note != NULL ? v->note : "");
	if (v->present && v->pop > 0) {
		Offstat__V1__Rates *r = arena_alloc(&ctx->mem, sizeof(*r));
		if (r == NULL) {
			return (NULL);
		}
		offstat__v1__rates__init(r);
		double ci[2];
		bool   ok = stats_poisson_ci(v->count, ctx->confidence, &ci[0],
		                             &ci[1]) == 0;
		r->people = rate_msg(ctx, v, v->pop, ok ? ci : NULL);
		r->under18 = rate_msg(ctx, v, v->pop_u18, ok ? ci : NULL);
		m->rates   = r;
	}
	if (v->source >= 0) {
		m->source_id = (char *)ctx->snap->sources[v->source].id;
		use_source(qs, v->source);
	}
	if (v->nalts > 0) {
		m->alternatives = arena_calloc(&ctx->mem, v->nalts,
		                               sizeof(*m->alternatives));
		for (size_t i = 0; m->alternatives != NULL && i < v->nalts;
		     i++) {
			Offstat__V1__Alternative *a =
			        arena_alloc(&ctx->mem, sizeof(*a));
			if (a == NULL) {
				return (NULL);
			}
			offstat__v1__alternative__init(a);
			a->count = v->alts[i].value;
			a->source_id =
			        (char *)ctx->snap->sources[v->alts[i].source]
			                .id;
			a->note = (char *)v->alts[i].note;
			use_source(qs, (int)v->alts[i].source);
			m->alternatives[m->n_alternatives++] = a;
		}
	}
	if (v->method != 0) {
		Offstat__V1__Coverage *c = arena_alloc(&ctx->mem, sizeof(*c));
		if (c == NULL) {
			return (NULL);
		}
		offstat__v1__coverage__init(c);
		c->method           = (Offstat__V1__Coverage__Method)v->method;
		c->members_expected = v->expected;
		c->members_present  = v->got;
		c->n_missing        = v->nmissing;
		c->missing          = code_list(ctx, v->missing, v->nmissing);
		m->coverage         = c;
	}
	return (m);
}

Offstat__V1__Value *
q_value(rpc_ctx *ctx, int area, int offence, const period *p, int source,
        q_sources *qs)
{
	qv v;
	resolve(ctx, area, offence, p, source, &v);
	return (value_msg(ctx, p, &v, qs));
}

/* ---- Trends --------------------------------------------------------- */

static void
published_changes(rpc_ctx *ctx, Offstat__V1__Trend *t, int area, int offence,
                  const period *base, const period *end, q_sources *qs)
{
	const snapshot *snap = ctx->snap;
	size_t          n    = 0;

	for (size_t i = 0; i < snap->nchanges; i++) {
		const snap_change *c = &snap->changes[i];
		n += c->area == (uint32_t)area &&
		     c->offence == (uint32_t)offence &&
		     period_equal(&c->from, base) && period_equal(&c->to, end);
	}
	if (n == 0) {
		return;
	}
	t->published_changes =
	        arena_calloc(&ctx->mem, n, sizeof(*t->published_changes));
	for (size_t i = 0; t->published_changes != NULL && i < snap->nchanges;
	     i++) {
		const snap_change *c = &snap->changes[i];
		if (c->area != (uint32_t)area ||
		    c->offence != (uint32_t)offence ||
		    !period_equal(&c->from, base) ||
		    !period_equal(&c->to, end)) {
			continue;
		}
		Offstat__V1__PublishedChange *m =
		        arena_alloc(&ctx->mem, sizeof(*m));
		if (m == NULL) {
			return;
		}
		offstat__v1__published_change__init(m);
		m->from      = q_period_msg(ctx, &c->from);
		m->to        = q_period_msg(ctx, &c->to);
		m->percent   = c->percent;
		m->source_id = (char *)snap->sources[c->source].id;
		m->note      = (char *)c->note;
		use_source(qs, (int)c->source);
		t->published_changes[t->n_published_changes++] = m;
	}
}

static Offstat__V1__Coverage *
coverage_msg(rpc_ctx *ctx, int method, unsigned expected, unsigned got,
             const int *missing, size_t nmissing)
{
	Offstat__V1__Coverage *c = arena_alloc(&ctx->mem, sizeof(*c));
	if (c != NULL) {
		offstat__v1__coverage__init(c);
		c->method           = (Offstat__V1__Coverage__Method)method;
		c->members_expected = expected;
		c->members_present  = got;
		c->n_missing        = nmissing;
		c->missing          = code_list(ctx, missing, nmissing);
	}
	return (c);
}

static Offstat__V1__RatioTest *
ratio_msg(rpc_ctx *ctx)
{
	Offstat__V1__RatioTest *r = arena_alloc(&ctx->mem, sizeof(*r));
	if (r != NULL) {
		offstat__v1__ratio_test__init(r);
		r->confidence = ctx->confidence;
	}
	return (r);
}

static void
fill_ratio(Offstat__V1__RatioTest *r, const stats_ratio *sr)
{
	r->known    = true;
	r->estimate = sr->estimate;
	r->lower    = sr->lower;
	r->upper    = sr->upper;
	r->p_value  = sr->p_value;
}

/*
 * The rate ratio end/base and the exact test that the rate did not change.
 * The population is the same mid-year estimate for both periods, so the
 * exposures cancel: the test is on the counts.
 */
static Offstat__V1__RatioTest *
change_test(rpc_ctx *ctx, const qv *b, const qv *e, unsigned flags)
{
	Offstat__V1__RatioTest *r = ratio_msg(ctx);
	stats_ratio             sr;

	if (r == NULL) {
		return (NULL);
	}
	if (!b->present || !e->present) {
		r->note = "needs figures for both periods";
		return (r);
	}
	if (stats_rate_ratio(b->count, e->count, 1.0, 1.0, ctx->confidence,
	                     &sr) != 0) {
		r->note = "the counts are too large for the exact test";
		return (r);
	}
	fill_ratio(r, &sr);
	if (isnan(sr.estimate)) {
		r->verdict = "no distinguishable change";
		r->note    = "both counts are zero";
	} else if (sr.p_value < 1.0 - ctx->confidence) {
		r->verdict = sr.estimate > 1.0 ? "rose" : "fell";
	} else {
		r->verdict = "no distinguishable change";
	}
	if (flags & FLAG_SERIES_BREAK) {
		r->note = "the series breaks between the periods: the test "
		          "compares different definitions";
	}
	return (r);
}

static bool
has_member(const Offstat__V1__Area *a, const char *code)
{
	for (size_t i = 0; i < a->n_members; i++) {
		if (strcmp(a->members[i], code) == 0) {
			return (true);
		}
	}
	return (false);
}

/* "the South West", "the United Kingdom", but "England", "Dorset". */
static const char *
the_name(rpc_ctx *ctx, int kind, const char *name, bool capital)
{
	if (kind != AREA_REGION && kind != AREA_NATION) {
		return (name);
	}
	return (arena_printf(&ctx->mem, "%s %s", capital ? "The" : "the",
	                     name));
}

static bool
coverage_holds(const Offstat__V1__Trend *t, const char *code)
{
	const Offstat__V1__Coverage *c = t->coverage;
	if (c == NULL) {
		return (false);
	}
	for (size_t i = 0; i < c->n_missing; i++) {
		if (strcmp(c->missing[i], code) == 0) {
			return (false);
		}
	}
	return (true);
}

void
q_versus(rpc_ctx *ctx, const Offstat__V1__Trend *s, int subject,
         Offstat__V1__Trend *c, int comparator)
{
	Offstat__V1__RatioTest *r = ratio_msg(ctx);
	stats_ratio             sr;
	uint64_t                rb, re;

	c->versus_subject = r;
	if (r == NULL) {
		return;
	}
	if (!s->change_known || !c->change_known) {
		r->note = "needs figures for both periods for both areas";
		return;
	}
	rb = c->base_value->count;
	re = c->end_value->count;
	/* Compare with the rest of the comparator: take the subject out
	 * when the comparator's figures include it. */
	bool inside = snapshot_area_within(ctx->snap, subject, comparator) &&
	              subject != comparator &&
	              coverage_holds(c, ctx->snap->areas[subject].code);
	if (inside) {
		if (rb < s->base_value->count || re < s->end_value->count) {
			r->note = "the comparator's figures are smaller than "
			          "the "
			          "subject's (different sources): no test";
			return;
		}
		rb -= s->base_value->count;
		re -= s->end_value->count;
	}
	if (stats_ratio_of_ratios(s->base_value->count, s->end_value->count,
	                          rb, re, ctx->confidence, &sr) != 0) {
		r->note = "the counts are too large for the exact test";
		return;
	}
	fill_ratio(r, &sr);
	if (!isnan(sr.estimate) && sr.p_value < 1.0 - ctx->confidence) {
		r->verdict = sr.estimate > 1.0 ? "higher than" : "lower than";
	} else {
		r->verdict = "not distinguishable from";
	}
	const snap_area *ca = &ctx->snap->areas[comparator];
	r->note             = arena_printf(
	                    &ctx->mem, "%s's change against %s%s (%llu to %llu)",
	                    ctx->snap->areas[subject].name, inside ? "the rest of " : "",
	                    the_name(ctx, ca->kind, ca->name, false),
	                    (unsigned long long)rb, (unsigned long long)re);
}

/* The note of a like-for-like sum (pb, pe: the aggregate's own figures). */
static const char *
like_for_like_note(rpc_ctx *ctx, const snap_area *a, const qv *pb,
                   const qv *pe, size_t nboth)
{
	if (pb->present || pe->present) {
		const qv *pub = pb->present ? pb : pe;
		return (arena_printf(
		        &ctx->mem,
		        "like-for-like sum of %zu of %zu members; the "
		        "published "
		        "figure for the %s period (%llu, %s) is not mixed "
		        "with "
		        "sums of members",
		        nboth, a->nmembers, pb->present ? "base" : "end",
		        (unsigned long long)pub->count,
		        pub->source >= 0 ? ctx->snap->sources[pub->source].id
		                         : "several sources"));
	}
	if (nboth < a->nmembers) {
		return (arena_printf(&ctx->mem,
		                     "like-for-like sum of the %zu of %zu "
		                     "members with figures for both periods",
		                     nboth, a->nmembers));
	}
	return ("");
}

/* The note when too few members have figures for both periods. */
static const char *
too_few_note(rpc_ctx *ctx, const snap_area *a, size_t nboth, size_t nother,
             qv *vb, qv *ve)
{
	/* Too few members to stand for the area: show what was
	 * published and leave the change unknown. */
	vb->method =
	        vb->present ? OFFSTAT__V1__COVERAGE__METHOD__PUBLISHED : 0;
	ve->method =
	        ve->present ? OFFSTAT__V1__COVERAGE__METHOD__PUBLISHED : 0;
	if (nboth == 0) {
		return ("");
	}
	if (nother == 0) {
		return ("only the subject has figures for both "
		        "periods");
	}
	return (arena_printf(&ctx->mem,
	                     "only %zu of %zu members have figures for "
	                     "both periods: too few to sum like for like",
	                     nboth, a->nmembers));
}

/* aggregate_pair() below with the members' figures from the snapshot's
 * table (both periods in it, every source, the newest release). */
static const char *
aggregate_pair_table(rpc_ctx *ctx, Offstat__V1__Trend *t, const snap_area *a,
                     int offence, const period *base, const period *end,
                     int subject, qv *vb, qv *ve)
{
	const snap_direct **db, **de;
	size_t              nboth = 0, nother = 0;

	db = arena_alloc_raw(&ctx->mem, a->nmembers * sizeof(*db));
	de = arena_alloc_raw(&ctx->mem, a->nmembers * sizeof(*de));
	if (db == NULL || de == NULL) {
		return ("");
	}
	for (size_t k = 0; k < a->nmembers; k++) {
		uint32_t m = (uint32_t)a->members[k];
		db[k] = snapshot_direct(ctx->snap, m, (uint32_t)offence, base);
		de[k] = snapshot_direct(ctx->snap, m, (uint32_t)offence, end);
		if (db[k]->kind != SNAP_DIRECT_NONE &&
		    de[k]->kind != SNAP_DIRECT_NONE) {
			nboth++;
			nother += a->members[k] != subject;
		}
	}
	if (nother == 0 || nboth * 2 < a->nmembers) {
		return (too_few_note(ctx, a, nboth, nother, vb, ve));
	}
	qv pb = *vb, pe = *ve;
	member_start(ctx, a, vb);
	member_start(ctx, a, ve);
	for (size_t k = 0; k < a->nmembers; k++) {
		bool both = db[k]->kind != SNAP_DIRECT_NONE &&
		            de[k]->kind != SNAP_DIRECT_NONE;
		member_add_direct(ctx, a, k, both ? db[k] : NULL, vb);
		member_add_direct(ctx, a, k, both ? de[k] : NULL, ve);
	}
	member_end(vb);
	member_end(ve);
	t->coverage = coverage_msg(
	        ctx, OFFSTAT__V1__COVERAGE__METHOD__SUM_OF_MEMBERS,
	        (unsigned)a->nmembers, (unsigned)nboth, vb->missing,
	        vb->nmissing);
	return (like_for_like_note(ctx, a, &pb, &pe, nboth));
}

/*
 * An aggregate's figures for two periods, like for like: published figures
 * when both periods have one; otherwise the sum over the members with
 * figures in both periods, when they are at least half of the members and
 * include one other than the subject. A published figure for one period is
 * shown but never mixed with sums of members. Returns the note to show.
 */
static const char *
aggregate_pair(rpc_ctx *ctx, Offstat__V1__Trend *t, int area, int offence,
               const period *base, const period *end, int source, int subject,
               q_sources *qs, qv *vb, qv *ve)
{
	const snap_area *a = &ctx->snap->areas[area];
	const qv       **mb, **me; /* each member's figures, worked out once */
	size_t           nboth = 0, nother = 0;

	if (vb->present && ve->present) {
		vb->method = ve->method =
		        OFFSTAT__V1__COVERAGE__METHOD__PUBLISHED;
		vb->expected = ve->expected = vb->got = ve->got =
		        (unsigned)a->nmembers;
		t->coverage = coverage_msg(ctx, vb->method, vb->expected,
		                           vb->got, NULL, 0);
		return ("");
	}
	/* The members' figures from the snapshot's table when it answers
	 * for both periods: a slot each, no cells, no memo. */
	if (table(ctx, area, offence, base, source) != NULL &&
	    table(ctx, area, offence, end, source) != NULL) {
		return (aggregate_pair_table(ctx, t, a, offence, base, end,
		                             subject, vb, ve));
	}
	/* Filled whole below: no need to zero them. Member counts are
	 * bounded by the number of areas. */
	mb = arena_alloc_raw(&ctx->mem, a->nmembers * sizeof(*mb));
	me = arena_alloc_raw(&ctx->mem, a->nmembers * sizeof(*me));
	if (mb == NULL || me == NULL) {
		return ("");
	}
	for (size_t k = 0; k < a->nmembers; k++) {
		mb[k] = direct_ref(ctx, qs, a->members[k], offence, base,
		                   source);
		me[k] = direct_ref(ctx, qs, a->members[k], offence, end,
		                   source);
		if (mb[k] == NULL || me[k] == NULL) {
			return ("");
		}
		if (mb[k]->present && me[k]->present) {
			nboth++;
			nother += a->members[k] != subject;
		}
	}
	if (nother == 0 || nboth * 2 < a->nmembers) {
		return (too_few_note(ctx, a, nboth, nother, vb, ve));
	}
	qv pb = *vb, pe = *ve;
	/* Like for like: members with figures for both periods only. */
	member_start(ctx, a, vb);
	member_start(ctx, a, ve);
	for (size_t k = 0; k < a->nmembers; k++) {
		bool both = mb[k]->present && me[k]->present;
		member_add(ctx, a, k, both ? mb[k] : NULL, vb);
		member_add(ctx, a, k, both ? me[k] : NULL, ve);
	}
	member_end(vb);
	member_end(ve);
	t->coverage = coverage_msg(
	        ctx, OFFSTAT__V1__COVERAGE__METHOD__SUM_OF_MEMBERS,
	        (unsigned)a->nmembers, (unsigned)nboth, vb->missing,
	        vb->nmissing);
	return (like_for_like_note(ctx, a, &pb, &pe, nboth));
}

Offstat__V1__Trend *
q_trend(rpc_ctx *ctx, int area, int offence, const period *base,
        const period *end, int source, int subject, q_sources *qs)
{
	const snap_area    *a = &ctx->snap->areas[area];
	const snap_offence *o = &ctx->snap->offences[offence];
	Offstat__V1__Trend *t = arena_alloc(&ctx->mem, sizeof(*t));
	qv                  vb, ve;
	const char         *note = "";

	if (t == NULL) {
		return (NULL);
	}
	offstat__v1__trend__init(t);
	t->area = q_area_msg(ctx, area);

	memo_start(ctx, qs, offence, base, end, source);
	direct_memo(ctx, qs, area, offence, base, source, &vb);
	direct_memo(ctx, qs, area, offence, end, source, &ve);
	own_population(ctx, area, &vb);
	own_population(ctx, area, &ve);
	if (is_aggregate(a)) {
		note = aggregate_pair(ctx, t, area, offence, base, end, source,
		                      subject, qs, &vb, &ve);
	}
	finish(ctx, offence, base, &vb);
	finish(ctx, offence, end, &ve);
	t->base_value = value_msg(ctx, base, &vb, qs);
	t->end_value  = value_msg(ctx, end, &ve, qs);

	unsigned flags = (vb.flags | ve.flags) &
	                 (FLAG_SMALL_NUMBER | FLAG_CONFLICT | FLAG_INCOMPLETE |
	                  FLAG_PROVISIONAL | FLAG_REVISED | FLAG_ESTIMATED);
	if (o->break_year != 0 && base->year < o->break_year &&
	    end->year >= o->break_year) {
		flags |= FLAG_SERIES_BREAK;
	}
	if (vb.present && ve.present) {
		double pct;
		t->change_known = true;
		t->change       = (int64_t)ve.count - (int64_t)vb.count;
		if (stats_percent_change(vb.count, ve.count, &pct)) {
			t->percent_known  = true;
			t->percent_change = pct;
		}
		if (flags & FLAG_SERIES_BREAK) {
			note = arena_printf(
			        &ctx->mem,
			        "%s%sthe series breaks in %u/%02u: %s", note,
			        note[0] ? "; " : "", o->break_year,
			        (o->break_year + 1) % 100, o->break_note);
		}
	} else {
		char        label[PERIOD_LABEL_MAX];
		const char *why = arena_printf(
		        &ctx->mem, "no figure for %s",
		        !vb.present ? period_label(base, label, sizeof(label))
		                    : period_label(end, label, sizeof(label)));
		if (!vb.present && !ve.present) {
			why = "no figures for either period";
		}
		note = arena_printf(&ctx->mem, "%s%s%s", why,
		                    note[0] ? "; " : "", note);
	}
	t->flags       = flag_list(ctx, flags, &t->n_flags);
	t->note        = (char *)note;
	t->change_test = change_test(ctx, &vb, &ve, flags);
	published_changes(ctx, t, area, offence, base, end, qs);
	return (t);
}

static const char *
direction(rpc_ctx *ctx, const Offstat__V1__Trend *t)
{
	if (!t->change_known) {
		return ("unknown");
	}
	if (t->change == 0) {
		return ("unchanged");
	}
	if (!t->percent_known) {
		return (arena_printf(&ctx->mem, "%s %lld",
		                     t->change > 0 ? "up" : "down",
		                     (long long)llabs(t->change)));
	}
	return (arena_printf(&ctx->mem, "%s %.1f%%",
	                     t->change > 0 ? "up" : "down",
	                     fabs(t->percent_change)));
}

/* "95%", "99.9%": the level as people write it. */
static const char *
level(rpc_ctx *ctx)
{
	return (arena_printf(&ctx->mem, "%.4g%%", ctx->confidence * 100.0));
}

const char *
q_summary(rpc_ctx *ctx, int offence, const Offstat__V1__Trend *s,
          Offstat__V1__Trend *const *comps, size_t ncomps)
{
	const snap_offence           *o  = &ctx->snap->offences[offence];
	const Offstat__V1__RatioTest *ct = s->change_test;
	const char                   *text;

	if (!s->change_known) {
		return (arena_printf(&ctx->mem,
		                     "%s: the change in %s offences from %s "
		                     "to %s is unknown "
		                     "(%s).",
		                     s->area->name, o->code,
		                     s->base_value->period->text,
		                     s->end_value->period->text, s->note));
	}
	const char *lvl = level(ctx);

	text = arena_printf(
	        &ctx->mem,
	        "%s recorded %llu %s offences (%s) in %s, %s from %llu in %s",
	        s->area->name, (unsigned long long)s->end_value->count,
	        o->code, o->description, s->end_value->period->text,
	        direction(ctx, s), (unsigned long long)s->base_value->count,
	        s->base_value->period->text);
	if (ct != NULL && ct->known && !isnan(ct->estimate)) {
		bool real = strcmp(ct->verdict, "rose") == 0 ||
		            strcmp(ct->verdict, "fell") == 0;
		text = arena_printf(
		        &ctx->mem,
		        "%s; %s (rate ratio %.2f, %s interval %.2f to %.2f)",
		        text,
		        real ? arena_printf(
		                       &ctx->mem,
		                       "more than chance would explain at "
		                       "%s confidence",
		                       lvl)
		             : "within what chance alone could produce",
		        ct->estimate, lvl, ct->lower, ct->upper);
	}
	text = arena_printf(&ctx->mem, "%s.", text);
	/* The nearest comparator that can be tested, or failing that one
	 * with a published change. */
	for (size_t i = 0; i < ncomps; i++) {
		const Offstat__V1__Trend     *c = comps[i];
		const Offstat__V1__RatioTest *v = c->versus_subject;
		if (v != NULL && v->known && c->percent_known) {
			text = arena_printf(
			        &ctx->mem,
			        "%s The change was %s that of %s%s (%+.1f%%) "
			        "at "
			        "%s confidence.",
			        text, v->verdict,
			        coverage_holds(c, s->area->code) &&
			                        has_member(c->area,
			                                   s->area->code)
			                ? "the rest of "
			                : "",
			        the_name(ctx, c->area->kind, c->area->name,
			                 false),
			        c->percent_change, lvl);
			break;
		}
		if (c->n_published_changes > 0) {
			text = arena_printf(&ctx->mem,
			                    "%s %s's change over the same "
			                    "years was published "
			                    "as %+.1f%%, without counts to "
			                    "test it against.",
			                    text,
			                    the_name(ctx, c->area->kind,
			                             c->area->name, true),
			                    c->published_changes[0]->percent);
			break;
		}
	}
	bool small = false;
	for (size_t i = 0; i < s->n_flags; i++) {
		small |= s->flags[i] == OFFSTAT__V1__FLAG__SMALL_NUMBER;
	}
	if (small) {
		text = arena_printf(
		        &ctx->mem,
		        "%s Counts under 10: treat percentages with "
		        "caution.",
		        text);
	}
	return (text);
}
