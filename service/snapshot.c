#include "snapshot.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

snapshot *
snapshot_new(void)
{
	snapshot *s = calloc(1, sizeof(*s));
	if (s != NULL) {
		atomic_init(&s->refs, 1);
		for (int i = 0; i < SNAP_NSLOTS; i++) {
			atomic_init(&s->slots[i], NULL);
		}
		arena_init(&s->mem);
	}
	return (s);
}

snapshot *
snapshot_ref(snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return (s);
}

void
snapshot_unref(snapshot *s)
{
	if (s == NULL) {
		return;
	}
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) ==
	    1) {
		for (int i = 0; i < SNAP_NSLOTS; i++) {
			void *d = atomic_load_explicit(&s->slots[i],
			                               memory_order_acquire);
			if (d != NULL && s->slot_free[i] != NULL) {
				s->slot_free[i](d);
			}
		}
		arena_fini(&s->mem);
		free(s);
	}
}

void *
snapshot_slot(snapshot *s, int slot, void *(*make)(void *arg),
              void (*destroy)(void *data), void *arg)
{
	void *d = atomic_load_explicit(&s->slots[slot], memory_order_acquire);
	void *none = NULL;

	if (d != NULL || (d = make(arg)) == NULL) {
		return (d);
	}
	if (atomic_compare_exchange_strong_explicit(&s->slots[slot], &none, d,
	                                            memory_order_acq_rel,
	                                            memory_order_acquire)) {
		/* Only the winner writes it, and the last unref, which
		 * reads it, comes after the winner's own unref. */
		s->slot_free[slot] = destroy;
		return (d);
	}
	destroy(d);
	return (none);
}

uint64_t
snapshot_key(uint32_t area, uint32_t offence, const period *p)
{
	return (((uint64_t)area << 48) | ((uint64_t)offence << 32) |
	        ((uint64_t)p->year << 16) | ((uint64_t)p->quarter << 8) |
	        p->kind);
}

uint64_t
snapshot_mix(uint64_t x)
{
	/* splitmix64's finaliser: keys differ in few bits. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (x);
}

const snap_entry *
snapshot_cell(const snapshot *s, uint32_t area, uint32_t offence,
              const period *p, size_t *n)
{
	uint64_t key = snapshot_key(area, offence, p);
	size_t   mask;

	*n = 0;
	if (s->cellcap == 0) {
		return (NULL);
	}
	mask = s->cellcap - 1;
	for (size_t i = snapshot_mix(key) & mask;; i = (i + 1) & mask) {
		const snap_cell *c = &s->cells[i];
		if (c->n == 0) {
			return (NULL);
		}
		if (c->key == key) {
			*n = c->n;
			return (&s->entries[c->first]);
		}
	}
}

/* The version of e current at commit sequence seq, or NULL when e did not
 * exist yet; *revised when an even older version had another value. */
static bool
version_at(const snap_entry *e, uint32_t seq, snap_entry *out)
{
	for (uint32_t i = 0; i < e->nhist; i++) {
		const snap_version *v = &e->hist[i];
		if (v->seq > seq) {
			continue;
		}
		*out = (snap_entry){.value   = v->value,
		                    .source  = e->source,
		                    .rank    = v->rank,
		                    .flags   = v->flags,
		                    .note    = v->note,
		                    .release = v->release,
		                    .seq     = v->seq,
		                    .nhist   = e->nhist - i - 1,
		                    .hist    = e->hist + i + 1};
		for (uint32_t k = i + 1; k < e->nhist; k++) {
			if (e->hist[k].value != v->value) {
				out->flags |= FLAG_REVISED;
			}
		}
		return (true);
	}
	return (false);
}

const snap_entry *
snapshot_cell_as_of(const snapshot *s, uint32_t area, uint32_t offence,
                    const period *p, uint64_t as_of, arena *mem, size_t *n)
{
	const snap_entry *e = snapshot_cell(s, area, offence, p, n);
	snap_entry       *v;
	size_t            k = 0;
	bool              later = false;

	if (as_of == 0 || as_of >= s->seq || *n == 0) {
		return (e);
	}
	for (size_t i = 0; i < *n && !later; i++) {
		later = e[i].seq > as_of;
	}
	if (!later) {
		return (e);
	}
	/* Some version is newer than asked for: rebuild the cell as it
	 * stood then, keeping the order. */
	if ((v = arena_calloc(mem, *n, sizeof(*v))) == NULL) {
		*n = 0;
		return (NULL);
	}
	for (size_t i = 0; i < *n; i++) {
		if (e[i].seq <= as_of) {
			v[k++] = e[i];
		} else if (version_at(&e[i], (uint32_t)as_of, &v[k])) {
			k++;
		}
	}
	*n = k;
	return (k > 0 ? v : NULL);
}

const snap_release *
snapshot_release(const snapshot *s, uint64_t id)
{
	for (size_t i = 0; i < s->nreleases; i++) {
		if (s->releases[i].id == id) {
			return (&s->releases[i]);
		}
	}
	return (NULL);
}

/* Lower case, "&" read as "and", punctuation and runs of spaces dropped. */
static void
normalise(const char *in, char *out, size_t len)
{
	size_t n     = 0;
	bool   space = false;

	for (const unsigned char *p = (const unsigned char *)in;
	     *p != '\0' && n + 4 < len; p++) {
		if (*p == '&') {
			if (n > 0 && !space) {
				out[n++] = ' ';
			}
			memcpy(out + n, "and", 3);
			n += 3;
			space = false;
		} else if (isalnum(*p) || *p >= 0x80) {
			if (space && n > 0) {
				out[n++] = ' ';
			}
			out[n++] = (char)tolower(*p);
			space    = false;
		} else {
			space = true;
		}
	}
	out[n] = '\0';
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(((const snap_name *)a)->key,
	               ((const snap_name *)b)->key));
}

static int
add_name(snapshot *s, size_t *n, const char *name, int index)
{
	char buf[256];
	normalise(name, buf, sizeof(buf));
	if (buf[0] == '\0') {
		return (0);
	}
	if ((s->area_names[*n].key = arena_strdup(&s->mem, buf)) == NULL) {
		return (-1);
	}
	s->area_names[*n].index = index;
	(*n)++;
	return (0);
}

/* What aggregates sum: forces, and countries that have no forces of their
 * own here (Scotland, Northern Ireland). */
static bool
is_leaf(const snap_area *a)
{
	return (!a->has_children &&
	        (a->kind == AREA_FORCE || a->kind == AREA_COUNTRY));
}

static int
index_areas(snapshot *s, char *err, size_t errlen)
{
	size_t nnames = 0;

	for (size_t i = 0; i < s->nareas; i++) {
		snap_area *a = &s->areas[i];
		nnames += 3 + a->naliases;
		/* Follow parents to find region and country; a chain longer
		 * than the number of areas is a cycle. */
		a->region    = -1;
		a->country   = -1;
		size_t steps = 0;
		for (int p = a->parent; p >= 0; p = s->areas[p].parent) {
			if (++steps > s->nareas) {
				snprintf(err, errlen, "area %s: parent cycle",
				         a->code);
				return (-1);
			}
			s->areas[p].has_children = true;
			if (s->areas[p].kind == AREA_REGION && a->region < 0) {
				a->region = p;
			}
			if (s->areas[p].kind == AREA_COUNTRY &&
			    a->country < 0) {
				a->country = p;
			}
		}
		/* Wales is both the region and the country of its forces. */
		if (a->region < 0 && a->kind == AREA_FORCE) {
			a->region = a->country;
		}
	}
	/* Members of an aggregate: the leaves below it. Groups may list
	 * theirs explicitly instead (kept as loaded). */
	for (size_t i = 0; i < s->nareas; i++) {
		snap_area *a = &s->areas[i];
		if (!a->has_children || a->nmembers > 0) {
			continue;
		}
		size_t n = 0;
		for (size_t j = 0; j < s->nareas; j++) {
			if (is_leaf(&s->areas[j]) && j != i &&
			    snapshot_area_within(s, (int)j, (int)i)) {
				n++;
			}
		}
		a->members = arena_calloc(&s->mem, n ? n : 1, sizeof(int));
		if (a->members == NULL) {
			goto nomem;
		}
		for (size_t j = 0; j < s->nareas; j++) {
			if (is_leaf(&s->areas[j]) && j != i &&
			    snapshot_area_within(s, (int)j, (int)i)) {
				a->members[a->nmembers++] = (int)j;
			}
		}
	}
	s->area_names = arena_calloc(&s->mem, nnames + 1, sizeof(snap_name));
	if (s->area_names == NULL) {
		goto nomem;
	}
	for (size_t i = 0; i < s->nareas; i++) {
		snap_area *a = &s->areas[i];
		if (add_name(s, &s->narea_names, a->code, (int)i) != 0 ||
		    add_name(s, &s->narea_names, a->name, (int)i) != 0) {
			goto nomem;
		}
		if (a->kind == AREA_REGION) {
			char alias[256];
			snprintf(alias, sizeof(alias), "%s region", a->name);
			if (add_name(s, &s->narea_names, alias, (int)i) != 0) {
				goto nomem;
			}
		}
		for (size_t k = 0; k < a->naliases; k++) {
			if (add_name(s, &s->narea_names, a->aliases[k],
			             (int)i) != 0) {
				goto nomem;
			}
		}
	}
	qsort(s->area_names, s->narea_names, sizeof(snap_name), name_cmp);
	return (0);
nomem:
	snprintf(err, errlen, "out of memory");
	return (-1);
}

/* The best entry of a cell as direct() reads it: its flags gain CONFLICT
 * when another source's value differs. */
static void
direct_stored(const snap_entry *e, size_t n, snap_direct *d)
{
	d->kind   = SNAP_DIRECT_STORED;
	d->count  = e[0].value;
	d->source = (int32_t)e[0].source;
	d->flags  = e[0].flags;
	for (size_t i = 1; i < n; i++) {
		if (e[i].value != e[0].value) {
			d->flags |= FLAG_CONFLICT;
		}
	}
}

/*
 * Fills the table of snapshot_direct(). What a year without a cell of its
 * own sums from its quarters follows query.c's direct() and accumulate()
 * exactly: the flags that carry into a sum, one source only while all
 * agree, INCOMPLETE for a part-year.
 */
static int
index_direct(snapshot *s, char *err, size_t errlen)
{
	const unsigned carry = FLAG_PROVISIONAL | FLAG_REVISED |
	                       FLAG_ESTIMATED | FLAG_CONFLICT |
	                       FLAG_INCOMPLETE;
	unsigned y0 = 0, y1 = 0;
	size_t   npairs = s->nareas * s->noffences, nrows = 0;

	for (size_t i = 0; i < s->noffences; i++) {
		const snap_offence *o = &s->offences[i];
		if (o->min_year != 0 && (y0 == 0 || o->min_year < y0)) {
			y0 = o->min_year;
		}
		if (o->max_year > y1) {
			y1 = o->max_year;
		}
	}
	if (y0 == 0 || npairs == 0) {
		return (0); /* no figures: every lookup finds the cells */
	}
	s->direct_row = arena_calloc(&s->mem, npairs, sizeof(uint32_t));
	if (s->direct_row == NULL) {
		goto nomem;
	}
	for (size_t i = 0; i < s->cellcap; i++) {
		const snap_cell *c = &s->cells[i];
		if (c->n == 0) {
			continue;
		}
		size_t area    = (size_t)(c->key >> 48);
		size_t offence = (size_t)(c->key >> 32) & 0xffff;
		if (area < s->nareas && offence < s->noffences) {
			s->direct_row[area * s->noffences + offence] = 1;
		}
	}
	for (size_t i = 0; i < npairs; i++) {
		if (s->direct_row[i] != 0) {
			s->direct_row[i] = (uint32_t)++nrows;
		}
	}
	s->direct = arena_calloc(&s->mem, nrows * (y1 - y0 + 1) * 5,
	                         sizeof(snap_direct));
	if (s->direct == NULL) {
		goto nomem;
	}
	for (size_t i = 0; i < npairs; i++) {
		uint32_t area = (uint32_t)(i / s->noffences);
		uint32_t off  = (uint32_t)(i % s->noffences);
		if (s->direct_row[i] == 0) {
			continue;
		}
		for (unsigned y = y0; y <= y1; y++) {
			snap_direct *d =
			        &s->direct[((size_t)(s->direct_row[i] - 1) *
			                            (y1 - y0 + 1) +
			                    (y - y0)) *
			                   5];
			const snap_entry *e;
			size_t            n;
			unsigned          got = 0;
			for (int q = 0; q <= 4; q++) {
				period p    = {(uint16_t)y, (uint8_t)q,
                                            q == 0 ? PERIOD_YEAR
				                      : PERIOD_QUARTER};
				d[q].source = -1;
				e = snapshot_cell(s, area, off, &p, &n);
				if (n > 0) {
					direct_stored(e, n, &d[q]);
				}
			}
			if (d[0].kind == SNAP_DIRECT_STORED) {
				continue;
			}
			for (int q = 1; q <= 4; q++) {
				if (d[q].kind == SNAP_DIRECT_NONE) {
					continue;
				}
				d[0].count += d[q].count;
				d[0].flags |= (uint16_t)(d[q].flags & carry);
				if (got == 0) {
					d[0].source = d[q].source;
				} else if (d[0].source != d[q].source) {
					d[0].source = -1;
				}
				d[0].have |= (uint8_t)(1u << (q - 1));
				got++;
			}
			if (got > 0) {
				d[0].kind = SNAP_DIRECT_QUARTERS;
				if (got < 4) {
					d[0].flags |= FLAG_INCOMPLETE;
				}
			}
		}
	}
	s->dyear0 = y0;
	s->dyears = y1 - y0 + 1;
	return (0);
nomem:
	snprintf(err, errlen, "out of memory");
	return (-1);
}

int
snapshot_index(snapshot *s, const uint64_t *cell_keys, char *err,
               size_t errlen)
{
	if (index_areas(s, err, errlen) != 0) {
		return (-1);
	}
	/* Cells: one per run of equal keys; the table stays at most half
	 * full so probes stay short. */
	size_t cap = 16;
	while (cap < s->nentries * 2) {
		cap <<= 1;
	}
	s->cells = arena_calloc(&s->mem, cap, sizeof(snap_cell));
	if (s->cells == NULL) {
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	s->cellcap = cap;
	for (size_t i = 0; i < s->nentries;) {
		size_t j = i + 1;
		while (j < s->nentries && cell_keys[j] == cell_keys[i]) {
			j++;
		}
		size_t mask = cap - 1;
		size_t h    = snapshot_mix(cell_keys[i]) & mask;
		while (s->cells[h].n != 0) {
			h = (h + 1) & mask;
		}
		s->cells[h].key   = cell_keys[i];
		s->cells[h].first = (uint32_t)i;
		s->cells[h].n     = (uint32_t)(j - i);
		s->ncells++;

		unsigned      year = (unsigned)(cell_keys[i] >> 16) & 0xffff;
		size_t        offence = (size_t)(cell_keys[i] >> 32) & 0xffff;
		snap_offence *o       = &s->offences[offence];
		if (o->min_year == 0 || year < o->min_year) {
			o->min_year = year;
		}
		if (year > o->max_year) {
			o->max_year = year;
		}
		i = j;
	}
	return (index_direct(s, err, errlen));
}

static int
code_cmp(const char *key, const char *code)
{
	return (strcmp(key, code));
}

#define BSEARCH_BY(arr, n, field, key)                                        \
	do {                                                                  \
		size_t lo = 0, hi = (n);                                      \
		while (lo < hi) {                                             \
			size_t mid = lo + (hi - lo) / 2;                      \
			int    c   = code_cmp((key), (arr)[mid].field);       \
			if (c == 0) {                                         \
				return ((int)mid);                            \
			}                                                     \
			if (c < 0) {                                          \
				hi = mid;                                     \
			} else {                                              \
				lo = mid + 1;                                 \
			}                                                     \
		}                                                             \
		return (-1);                                                  \
	} while (0)

int
snapshot_area_by_code(const snapshot *s, const char *code)
{
	BSEARCH_BY(s->areas, s->nareas, code, code);
}

int
snapshot_offence_by_code(const snapshot *s, const char *code)
{
	BSEARCH_BY(s->offences, s->noffences, code, code);
}

int
snapshot_source_by_id(const snapshot *s, const char *id)
{
	BSEARCH_BY(s->sources, s->nsources, id, id);
}

int
snapshot_find_area(const snapshot *s, const char *name)
{
	char buf[256];
	int  i;

	if ((i = snapshot_area_by_code(s, name)) >= 0) {
		return (i);
	}
	normalise(name, buf, sizeof(buf));
	/* Lower bound, then every entry with that key. */
	size_t lo = 0, hi = s->narea_names;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(s->area_names[mid].key, buf) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	/* A name shared by several areas ("West Midlands" is a force and a
	 * region) means the force: the unit the data is recorded by. The
	 * region stays reachable by code or as "West Midlands region". */
	i = -1;
	for (; lo < s->narea_names && strcmp(s->area_names[lo].key, buf) == 0;
	     lo++) {
		int k = s->area_names[lo].index;
		if (i < 0 || (s->areas[k].kind == AREA_FORCE &&
		              s->areas[i].kind != AREA_FORCE)) {
			i = k;
		}
	}
	return (i);
}

/* Letters and digits only, lower case: "s.15A" and "S15A" meet. */
static void
squash(const char *in, char *out, size_t len)
{
	size_t n = 0;
	for (; *in != '\0' && n + 1 < len; in++) {
		if (isalnum((unsigned char)*in)) {
			out[n++] = (char)tolower((unsigned char)*in);
		}
	}
	out[n] = '\0';
}

static bool
contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay != '\0'; hay++) {
		if (strncasecmp(hay, needle, n) == 0) {
			return (true);
		}
	}
	return (false);
}

int
snapshot_find_offence(const snapshot *s, const char *name, int *cands,
                      size_t ncands, size_t *nfound)
{
	char   want[64], have[64];
	size_t found = 0;
	int    hit   = -1;
	int    i;

	*nfound = 0;
	if (name[0] == '\0') {
		return (-1);
	}
	if ((i = snapshot_offence_by_code(s, name)) >= 0) {
		return (i);
	}
	/* Each rule below is tried alone; the first that matches exactly
	 * one offence wins, and several matches make the name ambiguous. */
	for (int rule = 0; rule < 4; rule++) {
		found = 0;
		if (rule == 1) {
			squash(name, want, sizeof(want));
			if (want[0] == '\0') {
				continue;
			}
		}
		for (size_t k = 0; k < s->noffences; k++) {
			const snap_offence *o = &s->offences[k];
			bool                m = false;
			switch (rule) {
			case 0:
				m = strcasecmp(o->code, name) == 0;
				break;
			case 1:
				squash(o->code, have, sizeof(have));
				m = strcmp(want, have) == 0;
				break;
			case 2:
				m = strcasecmp(o->description, name) == 0;
				break;
			case 3:
				m = strlen(name) >= 3 &&
				    contains_nocase(o->description, name);
				break;
			}
			if (m) {
				if (found < ncands) {
					cands[found] = (int)k;
				}
				found++;
				hit = (int)k;
			}
		}
		if (found == 1) {
			return (hit);
		}
		if (found > 1) {
			*nfound = found;
			return (-2);
		}
	}
	return (-1);
}

bool
snapshot_area_within(const snapshot *s, int a, int b)
{
	size_t steps = 0;
	if (a == b) {
		return (true);
	}
	const snap_area *g = &s->areas[b];
	if (g->kind == AREA_GROUP && !g->has_children) {
		for (size_t k = 0; k < g->nmembers; k++) {
			if (g->members[k] == a) {
				return (true);
			}
		}
		return (false);
	}
	for (int p = s->areas[a].parent; p >= 0 && steps++ <= s->nareas;
	     p     = s->areas[p].parent) {
		if (p == b) {
			return (true);
		}
	}
	return (false);
}

/* The current snapshot: readers take a reference under the lock, which is
 * held only for that, so a swap never waits for a slow reader. */
static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static snapshot       *current;

snapshot *
snapshot_current(void)
{
	snapshot *s;
	pthread_mutex_lock(&current_lock);
	s = current != NULL ? snapshot_ref(current) : NULL;
	pthread_mutex_unlock(&current_lock);
	return (s);
}

void
snapshot_publish(snapshot *s)
{
	snapshot *old;
	pthread_mutex_lock(&current_lock);
	old     = current;
	current = s;
	pthread_mutex_unlock(&current_lock);
	snapshot_unref(old);
}

void
snapshot_clear(void)
{
	snapshot_publish(NULL);
}
