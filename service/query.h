#ifndef OFFSTAT_QUERY_H
#define OFFSTAT_QUERY_H

#include <stdbool.h>

#include "dispatch.h"
#include "period.h"

/*
 * The questions the service answers, over one snapshot: resolving names,
 * finding a figure (from a source, summed from quarters, or summed over an
 * aggregate's members), and comparing changes. Results are built as wire
 * messages in the call's arena. Functions that resolve input set the call's
 * error status and return -1 (or NULL) when the input is bad.
 */

struct q_memo;

/*
 * What one reply has gathered so far: which sources it names, to list them
 * once at its end, and the figures of a comparison already worked out, so
 * that an area that is both a comparator's member and another's is summed
 * once.
 */
typedef struct {
	bool          *used; /* one per snapshot source */
	struct q_memo *memo; /* NULL until a trend needs it */
} q_sources;

int q_sources_init(rpc_ctx *ctx, q_sources *qs);
/* The used sources as messages; *n gets their number. */
Offstat__V1__Source **q_sources_list(rpc_ctx *ctx, const q_sources *qs,
                                     size_t *n);

/* Area by code or name: index, or -1 with NOT_FOUND/INVALID_ARGUMENT set. */
int q_find_area(rpc_ctx *ctx, const char *name, const char *what);
/* Offence by code or description; ambiguity is INVALID_ARGUMENT. */
int q_find_offence(rpc_ctx *ctx, const char *name);
/* Source id: index, -1 for "" (any source), -2 with NOT_FOUND set. */
int q_find_source(rpc_ctx *ctx, const char *id);
/*
 * A period from the wire: text when set, else year/quarter/kind. An unset
 * message gives 1 (absent; allowed when !required), 0 when parsed, -1 with
 * INVALID_ARGUMENT set.
 */
int q_period(rpc_ctx *ctx, const Offstat__V1__Period *in, const char *what,
             bool required, period *out);

Offstat__V1__Period  *q_period_msg(rpc_ctx *ctx, const period *p);
Offstat__V1__Area    *q_area_msg(rpc_ctx *ctx, int area);
Offstat__V1__Offence *q_offence_msg(rpc_ctx *ctx, int offence);
Offstat__V1__Source  *q_source_msg(rpc_ctx *ctx, int source);

/* One figure; never NULL unless out of memory. */
Offstat__V1__Value *q_value(rpc_ctx *ctx, int area, int offence,
                            const period *p, int source, q_sources *qs);
/*
 * The change of area between base and end. For aggregates, published
 * figures are used when both periods have one; otherwise members with
 * figures in both periods are summed, like for like, leaving out `subject`
 * when it would be the only member (an area is not its own comparator).
 */
Offstat__V1__Trend *q_trend(rpc_ctx *ctx, int area, int offence,
                            const period *base, const period *end, int source,
                            int subject, q_sources *qs);
/*
 * Tests the subject's change against comparator c's: the subject's counts
 * against the rest of the comparator (less the subject's own counts when
 * the comparator's figures include them). Sets c->versus_subject.
 */
void q_versus(rpc_ctx *ctx, const Offstat__V1__Trend *s, int subject,
              Offstat__V1__Trend *c, int comparator);
/*
 * Whether figures are read from the snapshot's table of years and quarters
 * (the default) or worked out from its cells every time: the answers are
 * the same, which the tests check by comparing both.
 */
void q_use_tables(bool on);

/* One sentence describing the subject's change beside its comparators. */
const char *q_summary(rpc_ctx *ctx, int offence,
                      const Offstat__V1__Trend  *subject,
                      Offstat__V1__Trend *const *comps, size_t ncomps);

#endif
