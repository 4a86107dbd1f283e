#include "dispatch.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "log.h"

/*
 * Length of the well-formed UTF-8 sequence at p, which has rem > 0 bytes
 * left, or 0 when it is not one.
 */
static int
utf8_seq(const unsigned char *p, size_t rem)
{
	unsigned c = p[0], min;
	int      n;

	if (c < 0x80) {
		return (1);
	}
	if ((c & 0xe0) == 0xc0) {
		n   = 1;
		min = 0x80;
		c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		n   = 2;
		min = 0x800;
		c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		n   = 3;
		min = 0x10000;
		c &= 0x07;
	} else {
		return (0);
	}
	if (rem <= (size_t)n) {
		return (0);
	}
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return (0);
		}
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
		return (0);
	}
	return (n + 1);
}

/*
 * Replaces bytes that are not well-formed UTF-8 with '?'. Messages quote
 * what the caller sent, cut to a length ("%.100s") that can split a
 * character, and a reply's strings must be UTF-8 for every protobuf
 * implementation to decode it.
 */
static void
utf8_repair(char *s)
{
	unsigned char *p   = (unsigned char *)s;
	unsigned char *end = p + strlen(s);
	while (p < end) {
		int n = utf8_seq(p, (size_t)(end - p));
		if (n == 0) {
			*p++ = '?';
		} else {
			p += n;
		}
	}
}

void
rpc_error(rpc_ctx *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	char    buf[512];

	if (ctx->code != OFFSTAT__V1__CODE__OK) {
		return;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	utf8_repair(buf);
	ctx->code    = code;
	ctx->message = arena_strdup(&ctx->mem, buf);
}

void
rpc_detail(rpc_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char    buf[512];

	if (ctx->ndetails == ctx->capdetails) {
		size_t       cap = ctx->capdetails ? ctx->capdetails * 2 : 8;
		const char **d   = arena_calloc(&ctx->mem, cap, sizeof(*d));
		if (d == NULL) {
			return;
		}
		if (ctx->ndetails > 0) {
			memcpy(d, ctx->details, ctx->ndetails * sizeof(*d));
		}
		ctx->details    = d;
		ctx->capdetails = cap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	utf8_repair(buf);
	ctx->details[ctx->ndetails++] = arena_strdup(&ctx->mem, buf);
}

/* protobuf-c calls this with the handler's response, or NULL on error. */
static void
closure(const ProtobufCMessage *msg, void *closure_data)
{
	rpc_ctx *ctx  = closure_data;
	ctx->answered = true;
	if (msg == NULL) {
		if (ctx->code == OFFSTAT__V1__CODE__OK) {
			rpc_error(ctx, OFFSTAT__V1__CODE__INTERNAL,
			          "the handler gave no reply");
		}
		return;
	}
	size_t n = protobuf_c_message_get_packed_size(msg);
	if ((ctx->payload = arena_alloc(&ctx->mem, n + 1)) == NULL) {
		rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "out of memory packing the reply");
		return;
	}
	ctx->payload_len = protobuf_c_message_pack(msg, ctx->payload);
}

static const char *const code_names[] = {"OK",
                                         "CANCELLED",
                                         "UNKNOWN",
                                         "INVALID_ARGUMENT",
                                         "DEADLINE_EXCEEDED",
                                         "NOT_FOUND",
                                         "ALREADY_EXISTS",
                                         "PERMISSION_DENIED",
                                         "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION",
                                         "ABORTED",
                                         "OUT_OF_RANGE",
                                         "UNIMPLEMENTED",
                                         "INTERNAL",
                                         "UNAVAILABLE",
                                         "DATA_LOSS",
                                         "UNAUTHENTICATED"};

/*
 * Memory for decoding one call. protobuf-c allocates every element of a
 * repeated field before anything can look at the count: an envelope of
 * 1 MiB holding 524,287 empty metadata entries (2 bytes each on the wire)
 * costs 44 MiB (a 32-byte scan record, an 8-byte pointer and a 40-byte
 * message per entry), and 1 MiB of empty ingest rows 84 MiB. So both unpacks
 * of a call draw on one budget of DECODE_FACTOR times the request limit; a
 * request that needs more fails to decode and is answered RESOURCE_EXHAUSTED.
 *
 * Why 16 times, not a fixed figure: real requests decode to a few times
 * their size (an ingest batch of open data rows, the largest, to 2.9
 * times; the others are a few hundred bytes), while degenerate repeated
 * fields reach 44 to 84 times. 16 leaves real requests room whatever
 * --max-request is, and bounds a call to 16 MiB with the default 1 MiB
 * limit (1 GiB with all 64 default workers busy, against 6 GiB before). A
 * fixed 32 MiB would refuse real ingest batches under a raised limit and
 * still allow 84 times under a small one.
 *
 * The memory comes in chunks, handed out in order and freed together when
 * the call ends: the half a million blocks of a flood cost no malloc each
 * and leave no holes in the heap. What protobuf-c frees during the call
 * (its scan records) is not reused, so the budget counts every block
 * handed out, rounded up to the alignment of any type.
 */
#define DECODE_FACTOR    16
#define DECODE_CHUNK_MIN (4u << 10)
#define DECODE_CHUNK_MAX (256u << 10)

typedef struct decode_chunk {
	struct decode_chunk *next;
	size_t               size; /* bytes in data */
	size_t               used;
	max_align_t          data[];
} decode_chunk;

typedef struct {
	ProtobufCAllocator base;
	decode_chunk      *chunks; /* the one being filled first */
	size_t             next;   /* the size of the next chunk */
	size_t             used;   /* bytes handed out */
	size_t             limit;  /* bytes used may not pass */
	bool               over;   /* an allocation broke the budget */
	bool               oom;    /* malloc failed within it */
} decode_mem;

static void *
decode_alloc(void *data, size_t size)
{
	decode_mem   *m     = data;
	decode_chunk *c     = m->chunks;
	size_t        align = _Alignof(max_align_t);
	size_t        n;
	void         *p;

	if (size > m->limit - m->used) {
		m->over = true;
		return (NULL);
	}
	n = size == 0 ? align : (size + align - 1) / align * align;
	if (n > m->limit - m->used) {
		m->over = true;
		return (NULL);
	}
	if (c == NULL || c->size - c->used < n) {
		/* A block bigger than a chunk gets one of its own, behind
		 * the one being filled, which carries on. */
		size_t cap = n > m->next ? n : m->next;
		if ((c = malloc(offsetof(decode_chunk, data) + cap)) == NULL) {
			m->oom = true;
			return (NULL);
		}
		c->size = cap;
		c->used = 0;
		if (n > m->next && m->chunks != NULL) {
			c->next         = m->chunks->next;
			m->chunks->next = c;
		} else {
			c->next   = m->chunks;
			m->chunks = c;
			if (m->next < DECODE_CHUNK_MAX) {
				m->next *= 2;
			}
		}
	}
	p = (char *)c->data + c->used;
	c->used += n;
	m->used += n;
	return (p);
}

/* Blocks go when the call ends (decode_mem_fini). */
static void
decode_free(void *data, void *ptr)
{
	(void)data;
	(void)ptr;
}

static void
decode_mem_init(decode_mem *m, size_t max_request)
{
	memset(m, 0, sizeof(*m));
	m->base.alloc          = decode_alloc;
	m->base.free           = decode_free;
	m->base.allocator_data = m;
	m->next                = DECODE_CHUNK_MIN;
	m->limit               = max_request <= SIZE_MAX / DECODE_FACTOR
	                                 ? max_request * DECODE_FACTOR
	                                 : SIZE_MAX;
}

static void
decode_mem_fini(decode_mem *m)
{
	while (m->chunks != NULL) {
		decode_chunk *c = m->chunks;
		m->chunks       = c->next;
		free(c);
	}
}

/*
 * Sets the status for an unpack that failed: RESOURCE_EXHAUSTED when the
 * budget (or memory) ran out, else INVALID_ARGUMENT with msg (what the
 * bytes are not).
 */
static void
unpack_failed(rpc_ctx *ctx, const decode_mem *m, const char *what,
              const char *msg)
{
	if (m->over) {
		rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "decoding %s needs more than %zu bytes of memory "
		          "(%d times the request limit): send fewer repeated "
		          "entries",
		          what, m->limit, DECODE_FACTOR);
	} else if (m->oom) {
		rpc_error(ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "out of memory decoding %s", what);
	} else {
		rpc_error(ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT, "%s", msg);
	}
}

/*
 * The strings of a request, checked on the wire. protobuf-c hands strings
 * over NUL-terminated, so "Dor\0set" would silently arrive as "Dor"; and it
 * does not check that they are UTF-8, as proto3 requires. The check walks
 * the encoded bytes with the message's descriptors (nested messages too),
 * after protobuf-c has accepted them, and names the first bad field.
 */
#define WIRE_MAX_DEPTH 16

typedef struct {
	const char *names[WIRE_MAX_DEPTH + 1]; /* the field path so far */
	const char *why;                       /* what is wrong with it */
	char        path[160];
} wire_bad;

/* Reads a varint at *p, before end. Returns 0, or -1 when it is cut short
 * or longer than ten bytes. */
static int
wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		uint8_t b;
		if (*p == end) {
			return (-1);
		}
		b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return (0);
		}
	}
	return (-1);
}

/* Records what is wrong and the dotted path of the field, depth deep. */
static int
wire_fail(wire_bad *bad, int depth, const char *why)
{
	size_t n = 0;

	bad->why     = why;
	bad->path[0] = '\0';
	for (int i = 0; i <= depth && n < sizeof(bad->path); i++) {
		int k = snprintf(bad->path + n, sizeof(bad->path) - n, "%s%s",
		                 i > 0 ? "." : "", bad->names[i]);
		n += k > 0 ? (size_t)k : 0;
	}
	return (-1);
}

/* Checks the string fields of the message of type d in p[0..len). Returns
 * 0, or -1 with bad filled in. */
static int
wire_strings(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
             int depth, wire_bad *bad)
{
	const uint8_t *end;

	/* An empty bytes field is a NULL pointer: no arithmetic on it. */
	if (len == 0) {
		return (0);
	}
	end = p + len;
	if (depth > WIRE_MAX_DEPTH) {
		return (wire_fail(bad, depth - 1, "is nested too deeply"));
	}
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t                        key, n;

		if (wire_varint(&p, end, &key) != 0) {
			goto malformed;
		}
		switch (key & 7) {
		case 0: /* varint */
			if (wire_varint(&p, end, &n) != 0) {
				goto malformed;
			}
			continue;
		case 1: /* 64-bit */
			if (end - p < 8) {
				goto malformed;
			}
			p += 8;
			continue;
		case 5: /* 32-bit */
			if (end - p < 4) {
				goto malformed;
			}
			p += 4;
			continue;
		case 2: /* length-delimited: read on below */
			break;
		default: /* groups, which protobuf-c refuses anyway */
			goto malformed;
		}
		if (wire_varint(&p, end, &n) != 0 || n > (uint64_t)(end - p)) {
			goto malformed;
		}
		f = (key >> 3) <= UINT32_MAX
		            ? protobuf_c_message_descriptor_get_field(
		                      d, (unsigned)(key >> 3))
		            : NULL;
		if (f != NULL) {
			bad->names[depth] = f->name;
		}
		if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING) {
			for (size_t i = 0; i < n;) {
				int k;
				if (p[i] == '\0') {
					return (wire_fail(bad, depth,
					                  "holds a NUL byte"));
				}
				if ((k = utf8_seq(p + i, n - i)) == 0) {
					return (wire_fail(bad, depth,
					                  "is not UTF-8"));
				}
				i += (size_t)k;
			}
		} else if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		           wire_strings(f->descriptor, p, n, depth + 1, bad) !=
		                   0) {
			return (-1);
		}
		p += n;
	}
	return (0);
malformed:
	bad->names[depth] = "?";
	return (wire_fail(bad, depth, "is not well-formed"));
}

/* The authorization metadata of a request, or NULL. */
static const char *
authorization(const Offstat__V1__RpcRequest *env)
{
	for (size_t i = 0; i < env->n_metadata; i++) {
		const Offstat__V1__Metadata *m = env->metadata[i];
		if (m != NULL && strcasecmp(m->key, "authorization") == 0) {
			return (m->value);
		}
	}
	return (NULL);
}

/*
 * Checks the caller's token against what the method needs: writes always
 * need a writer token, reads a reader token when the operator says so. A
 * token that is given must be valid even where none is needed. Returns 0,
 * or -1 with the status set.
 */
static int
authorize(rpc_ctx *ctx, const dispatch_opts *opts,
          const Offstat__V1__RpcRequest   *env,
          const ProtobufCMethodDescriptor *md, dispatch_info *info)
{
	bool        write = strcmp(md->name, "Ingest") == 0;
	int         need  = write                    ? AUTH_WRITER
	                    : opts->reads_need_token ? AUTH_READER
	                                             : AUTH_NONE;
	const char *value = authorization(env);
	int         role  = AUTH_MISSING;

	if (value != NULL) {
		role = opts->auth != NULL ? auth_check(opts->auth, value)
		                          : AUTH_INVALID;
	}
	if (role >= 0) {
		/* Who is calling, for handlers that record it: the token's
		 * public id ("ost_<8 hex>"), never its secret. */
		const char *t = value + strlen("Bearer ");
		ctx->role     = role;
		snprintf(ctx->token_id, sizeof(ctx->token_id), "%.12s", t);
	}
	if (role == AUTH_INVALID) {
		info->auth_failed = true;
		rpc_error(ctx, OFFSTAT__V1__CODE__UNAUTHENTICATED,
		          "the token is not valid (unknown, revoked or "
		          "malformed)");
		return (-1);
	}
	if (need == AUTH_NONE) {
		return (0);
	}
	if (role == AUTH_MISSING) {
		rpc_error(ctx, OFFSTAT__V1__CODE__UNAUTHENTICATED,
		          "%s needs a %s token: send metadata "
		          "'authorization: Bearer <token>'",
		          md->name, auth_role_name((auth_role)need));
		return (-1);
	}
	if (role < need) {
		rpc_error(ctx, OFFSTAT__V1__CODE__PERMISSION_DENIED,
		          "%s needs a %s token; this one is a %s token",
		          md->name, auth_role_name((auth_role)need),
		          auth_role_name((auth_role)role));
		return (-1);
	}
	return (0);
}

static int
pack_reply(rpc_ctx *ctx, const char *request_id, void **out, size_t *outlen)
{
	Offstat__V1__RpcResponse resp   = OFFSTAT__V1__RPC_RESPONSE__INIT;
	Offstat__V1__RpcStatus   status = OFFSTAT__V1__RPC_STATUS__INIT;
	size_t                   n;
	uint8_t                 *buf;

	status.code      = (Offstat__V1__Code)ctx->code;
	status.message   = (char *)(ctx->message ? ctx->message : "");
	status.n_details = ctx->ndetails;
	status.details   = (char **)ctx->details;
	resp.status      = &status;
	resp.request_id  = (char *)(request_id ? request_id : "");
	if (ctx->code == OFFSTAT__V1__CODE__OK) {
		resp.payload.data = ctx->payload;
		resp.payload.len  = ctx->payload_len;
	}
	n = protobuf_c_message_get_packed_size(&resp.base);
	if ((buf = malloc(n > 0 ? n : 1)) == NULL) {
		return (-1);
	}
	*outlen = protobuf_c_message_pack(&resp.base, buf);
	*out    = buf;
	return (0);
}

int
dispatch_request(const void *req, size_t len, const dispatch_opts *opts,
                 void **out, size_t *outlen, dispatch_info *info)
{
	rpc_ctx                          ctx;
	Offstat__V1__RpcRequest         *env        = NULL;
	ProtobufCMessage                *input      = NULL;
	const ProtobufCMethodDescriptor *md         = NULL;
	const char                      *request_id = NULL;
	decode_mem                       mem;
	wire_bad                         bad;
	int                              rv;

	memset(&ctx, 0, sizeof(ctx));
	decode_mem_init(&mem, opts->max_request);
	arena_init(&ctx.mem);
	ctx.confidence      = 0.95;
	info->method        = "-";
	info->request_id[0] = '\0';
	info->auth_failed   = false;

	if (len > opts->max_request) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__RESOURCE_EXHAUSTED,
		          "request of %zu bytes is over the limit of %zu", len,
		          opts->max_request);
		goto reply;
	}
	env = offstat__v1__rpc_request__unpack(&mem.base, len, req);
	if (env == NULL) {
		unpack_failed(&ctx, &mem, "the request envelope",
		              "the request is not an offstat.v1.RpcRequest");
		goto reply;
	}
	if (wire_strings(env->base.descriptor, req, len, 0, &bad) != 0) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the request envelope's field '%s' %s", bad.path,
		          bad.why);
		goto reply;
	}
	request_id = env->request_id;
	snprintf(info->request_id, sizeof(info->request_id), "%s", request_id);
	if (opts->unavailable) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__UNAVAILABLE,
		          "the service is shutting down");
		goto reply;
	}
	if (strncmp(env->method, RPC_METHOD_PREFIX,
	            strlen(RPC_METHOD_PREFIX)) == 0) {
		md = protobuf_c_service_descriptor_get_method_by_name(
		        offstat__service.base.descriptor,
		        env->method + strlen(RPC_METHOD_PREFIX));
	}
	if (md == NULL) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__UNIMPLEMENTED,
		          "unknown method '%.100s'; methods are %s<Method>",
		          env->method, RPC_METHOD_PREFIX);
		goto reply;
	}
	info->method = md->name;
	if (authorize(&ctx, opts, env, md, info) != 0) {
		goto reply;
	}
	input = protobuf_c_message_unpack(md->input, &mem.base,
	                                  env->payload.len, env->payload.data);
	if (input == NULL) {
		char what[160], msg[200];
		snprintf(what, sizeof(what), "the %s", md->input->name);
		snprintf(msg, sizeof(msg), "the payload is not a %s",
		         md->input->name);
		unpack_failed(&ctx, &mem, what, msg);
		goto reply;
	}
	if (wire_strings(md->input, env->payload.data, env->payload.len, 0,
	                 &bad) != 0) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the %s field '%s' %s", md->input->name, bad.path,
		          bad.why);
		goto reply;
	}
	if ((ctx.snap = snapshot_current()) == NULL) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__UNAVAILABLE,
		          "no dataset is loaded yet");
		goto reply;
	}
	offstat__service.base.invoke(
	        &offstat__service.base,
	        (unsigned)(md - offstat__service.base.descriptor->methods),
	        input, closure, &ctx);
	if (!ctx.answered) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INTERNAL,
		          "the handler did not answer");
	}
reply:
	info->code = ctx.code;
	rv         = pack_reply(&ctx, request_id, out, outlen);
	/* With the allocator they were decoded with (which frees nothing
	 * itself), then all that it handed out. */
	if (input != NULL) {
		protobuf_c_message_free_unpacked(input, &mem.base);
	}
	if (env != NULL) {
		offstat__v1__rpc_request__free_unpacked(env, &mem.base);
	}
	decode_mem_fini(&mem);
	snapshot_unref(ctx.snap);
	arena_fini(&ctx.mem);
	return (rv);
}

const char *
dispatch_code_name(int code)
{
	if (code < 0 ||
	    (size_t)code >= sizeof(code_names) / sizeof(code_names[0])) {
		return ("?");
	}
	return (code_names[code]);
}
