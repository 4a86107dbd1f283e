#ifndef OFFSTAT_DISPATCH_H
#define OFFSTAT_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "snapshot.h"

#include "offstat/v1/offstat.pb-c.h"

#define RPC_METHOD_PREFIX "offstat.v1.OffenceStats/"
/* Default bound on an envelope the service will decode (1 MiB). */
#define RPC_DEFAULT_MAX_REQUEST (1u << 20)
/* Default bound on the reply cache of each snapshot (32 MiB). */
#define RPC_DEFAULT_REPLY_CACHE ((size_t)32 << 20)

/*
 * The state of one call, handed to a handler as protobuf-c's closure data.
 * A handler either passes its response message to the closure, or calls
 * rpc_error() and passes NULL.
 */
typedef struct rpc_ctx {
	arena        mem;  /* everything the response is built from */
	snapshot    *snap; /* the release this call reads */
	int          code; /* Offstat__V1__Code */
	const char  *message;
	const char **details;
	size_t       ndetails;
	size_t       capdetails;
	uint8_t     *payload; /* packed response message */
	size_t       payload_len;
	uint8_t     *packed; /* malloc'd buffer payload points into, or
	                        NULL when it is in mem */
	struct rpc_pre *pre; /* rpc_prepacked()'s messages, hashed */
	size_t          npre;
	size_t          cappre;
	bool         answered;
	uint64_t     started_ns;
	double       confidence; /* of intervals; 0.95 unless asked */
	uint64_t     as_of;      /* commit sequence of the release asked
	                            for; 0: the latest */
	int          role;       /* the caller's auth_role; 0: no token */
	char         token_id[16]; /* the caller's token id; "" without */
} rpc_ctx;

/* Sets the call's failure status; the first error wins. */
void rpc_error(rpc_ctx *ctx, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Adds a line to the status details (e.g. one per bad input). */
void rpc_detail(rpc_ctx *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * Tells the packer that msg (a message of this call's reply) packs to the
 * len bytes at bytes, which outlive the call: it copies them instead of
 * walking msg's fields. For messages made only from the snapshot (areas,
 * offences, sources), packed once per snapshot. Nothing happens when out
 * of memory: msg is then packed as usual.
 */
void rpc_prepacked(rpc_ctx *ctx, const void *msg, const uint8_t *bytes,
                   size_t len);
/*
 * Packs msg as protobuf-c does into a malloc'd buffer: *base is the
 * buffer to free, *out the bytes in it and *len their number. ctx (or
 * NULL) gives the messages known packed already. Returns 0, or -1 (out of
 * memory, or a message this packer leaves to protobuf-c).
 */
int rpc_pack(const rpc_ctx *ctx, const ProtobufCMessage *msg, uint8_t **base,
             const uint8_t **out, size_t *len);

struct auth;

typedef struct {
	size_t max_request; /* envelopes above this: RESOURCE_EXHAUSTED */
	bool   unavailable; /* shutting down: answer UNAVAILABLE */
	struct auth *auth;  /* tokens; NULL: none are valid */
	bool         reads_need_token; /* else only writes need one */
	/*
	 * Bytes of packed replies kept per snapshot for the read methods
	 * whose answer depends only on the request and the release
	 * (GetCount, GetSeries, CompareTrend, RankAreas, ListAreas,
	 * ListOffences, ListSources): the same request again is answered
	 * from the cache after the token check. 0: no cache;
	 * RPC_DEFAULT_REPLY_CACHE is the service's default.
	 */
	size_t reply_cache;
} dispatch_opts;

typedef struct {
	int         code;   /* the status sent */
	const char *method; /* static; "-" when not decoded */
	char        request_id[64];
	bool        auth_failed; /* a token was given and refused */
} dispatch_info;

/*
 * Answers one request. req holds len bytes as received; *out gets a packed
 * RpcResponse (malloc'd; the caller frees it) whatever arrived, garbage
 * included. Returns 0, or -1 only when out of memory.
 */
int dispatch_request(const void *req, size_t len, const dispatch_opts *opts,
                     void **out, size_t *outlen, dispatch_info *info);

/* The method table: protobuf-c's service with our handlers (handlers.c). */
extern Offstat__V1__OffenceStats_Service offstat__service;
/* The name of a status code, e.g. "NOT_FOUND". */
const char *dispatch_code_name(int code);
/* Records the start time that ServerInfo reports. */
void handlers_started(void);

#endif
