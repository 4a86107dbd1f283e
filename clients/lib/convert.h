#ifndef OFFSTAT_CLIENT_CONVERT_H
#define OFFSTAT_CLIENT_CONVERT_H

/*
 * Copies of decoded protobuf-c messages as the public plain structs,
 * allocated inside a result region (result.h). The decoded message can be
 * freed as soon as the copy is made.
 */

#include <stdbool.h>

#include "offstat/offstat.h"
#include "offstat/v1/offstat.pb-c.h"

/* A conversion in progress: the region it fills and whether it failed. */
typedef struct offstat__conv {
	void *result;
	bool  failed; /* Memory ran out; the result must be discarded. */
} offstat__conv;

char *offstat__conv_str(offstat__conv *cv, const char *s);
void  offstat__conv_area(offstat__conv *cv, offstat_area *dst,
                         const Offstat__V1__Area *src);
void  offstat__conv_offence(offstat__conv *cv, offstat_offence *dst,
                            const Offstat__V1__Offence *src);
void  offstat__conv_source(offstat__conv *cv, offstat_source *dst,
                           const Offstat__V1__Source *src);
void  offstat__conv_value(offstat__conv *cv, offstat_value *dst,
                          const Offstat__V1__Value *src);
void  offstat__conv_trend(offstat__conv *cv, offstat_trend *dst,
                          const Offstat__V1__Trend *src);
void  offstat__conv_ranked_area(offstat__conv *cv, offstat_ranked_area *dst,
                                const Offstat__V1__RankedArea *src);
void  offstat__conv_release(offstat__conv *cv, offstat_release *dst,
                            const Offstat__V1__Release *src);
void  offstat__conv_server_info(offstat__conv *cv, offstat_server_info *dst,
                                const Offstat__V1__ServerInfoResponse *src);

/* Arrays: *dst is NULL when n is 0. */
void offstat__conv_sources(offstat__conv *cv, offstat_source **dst,
                           size_t *n_dst, Offstat__V1__Source *const *src,
                           size_t n);
void offstat__conv_areas(offstat__conv *cv, offstat_area **dst, size_t *n_dst,
                         Offstat__V1__Area *const *src, size_t n);
void offstat__conv_offences(offstat__conv *cv, offstat_offence **dst,
                            size_t *n_dst, Offstat__V1__Offence *const *src,
                            size_t n);

#endif
