#ifndef OFFSTAT_TEST_INGEST_UTIL_H
#define OFFSTAT_TEST_INGEST_UTIL_H

/*
 * Calls for the ingest tests: envelopes with a token, and the Ingest
 * steps, straight on the wire (no client library).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "offstat/v1/offstat.pb-c.h"

/* Makes a token of role in the tokens file at path (offstatd token add);
 * returns 0 with the token in out. */
int iu_token(const char *path, const char *role, char *out, size_t outlen);

/*
 * One call of method (the short name, e.g. "Ingest") with payload msg and,
 * when token is not NULL, an authorization. Returns the reply (free with
 * offstat__v1__rpc_response__free_unpacked), or NULL on a transport
 * failure or an undecodable reply.
 */
Offstat__V1__RpcResponse *iu_call(const char *url, const char *method,
                                  const ProtobufCMessage *msg,
                                  const char *token, int timeout_ms);

/* The reply's status code, or -1 for NULL; frees the reply. */
int iu_code(Offstat__V1__RpcResponse *r);

/* A generated open-data row: force name, offence code, quarter, count. */
typedef struct {
	char     year[8];
	unsigned quarter;
	char     force[64];
	char     description[64];
	char     group[32];
	char     subgroup[32];
	char     code[16];
	uint64_t count;
} iu_row;

/*
 * Sends one Ingest. action: 'o' open (label in text), 'b' batch of rows
 * into release, 'c' commit release, 'a' abort release. The reply, as
 * iu_call; *resp (when not NULL) gets the IngestResponse of an OK reply
 * (free with offstat__v1__ingest_response__free_unpacked).
 */
Offstat__V1__RpcResponse *iu_ingest(const char *url, const char *token,
                                    char action, const char *text,
                                    uint64_t release, const iu_row *rows,
                                    size_t nrows, const char *key,
                                    Offstat__V1__IngestResponse **resp);

/* GetCount of area/offence in year/quarter (quarter 0: the year) as of
 * release (0: latest); *count and *revised from an OK reply, whose code
 * is returned (-1 on transport failure). *release gets the reply's
 * release string as a number when not NULL. */
int iu_count(const char *url, const char *area, const char *offence,
             unsigned year, unsigned quarter, uint64_t as_of, uint64_t *count,
             bool *present, bool *revised, uint64_t *release);

/* The names of the forces the service knows (ListAreas kind FORCE), up to
 * max, into names (each 64 bytes); returns how many. */
size_t iu_forces(const char *url, char (*names)[64], size_t max);

#endif
