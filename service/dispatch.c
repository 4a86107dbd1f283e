#include "dispatch.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
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

/*
 * A packer that writes a message back to front, in one pass. protobuf-c
 * packs front to back: it walks the whole tree once for the size, then
 * again to pack, and each nested message is packed behind a one-byte
 * length and moved along when its length needs more. Written from the
 * end, a nested message's length is known when its tag is due. The bytes
 * are those protobuf-c writes (fields in descriptor order, which is number
 * order; proto3 fields at zero left out; NULL strings and messages in
 * repeated fields as empty ones); what this packer does not handle
 * (unknown fields, deep nesting) is left to protobuf-c.
 */
#define RW_MAX_DEPTH 32
/* Room for a tag and a varint, or a tag, a length and a fixed64. */
#define RW_SCALAR_MAX 20

typedef struct {
	uint8_t *buf; /* malloc'd; the bytes are [p, end) */
	uint8_t *p;
	uint8_t *end;
	bool     fail;      /* out of memory, or a message to leave to
	                       protobuf-c */
	const rpc_ctx *ctx; /* its prepacked messages, or NULL */
} rwriter;

struct rpc_pre {
	const void    *msg; /* NULL: a free slot */
	const uint8_t *bytes;
	size_t         len;
};

static size_t
pre_slot(const void *msg, size_t cap)
{
	return ((size_t)(((uintptr_t)msg >> 4) * 0x9e3779b97f4a7c15ULL >> 32) &
	        (cap - 1));
}

void
rpc_prepacked(rpc_ctx *ctx, const void *msg, const uint8_t *bytes, size_t len)
{
	/* Open addressing, at most half full. */
	if ((ctx->npre + 1) * 2 > ctx->cappre) {
		size_t          cap = ctx->cappre ? ctx->cappre * 2 : 32;
		struct rpc_pre *t   = arena_calloc(&ctx->mem, cap, sizeof(*t));
		if (t == NULL) {
			return;
		}
		for (size_t i = 0; i < ctx->cappre; i++) {
			if (ctx->pre[i].msg != NULL) {
				size_t h = pre_slot(ctx->pre[i].msg, cap);
				while (t[h].msg != NULL) {
					h = (h + 1) & (cap - 1);
				}
				t[h] = ctx->pre[i];
			}
		}
		ctx->pre    = t;
		ctx->cappre = cap;
	}
	size_t h = pre_slot(msg, ctx->cappre);
	while (ctx->pre[h].msg != NULL) {
		if (ctx->pre[h].msg == msg) {
			return;
		}
		h = (h + 1) & (ctx->cappre - 1);
	}
	ctx->pre[h] = (struct rpc_pre){msg, bytes, len};
	ctx->npre++;
}

/* The known bytes of msg, or NULL. */
static const struct rpc_pre *
pre_find(const rpc_ctx *ctx, const void *msg)
{
	if (ctx == NULL || ctx->npre == 0) {
		return (NULL);
	}
	for (size_t h = pre_slot(msg, ctx->cappre); ctx->pre[h].msg != NULL;
	     h        = (h + 1) & (ctx->cappre - 1)) {
		if (ctx->pre[h].msg == msg) {
			return (&ctx->pre[h]);
		}
	}
	return (NULL);
}

/* Written so far: unchanged when the buffer grows. */
static inline size_t
rw_len(const rwriter *w)
{
	return ((size_t)(w->end - w->p));
}

/* Grows the buffer so that n more bytes fit; false when out of memory. */
static bool
rw_grow(rwriter *w, size_t n)
{
	size_t   have = rw_len(w);
	size_t   cap  = (size_t)(w->end - w->buf);
	uint8_t *b;

	cap = cap * 2 > have + n + 256 ? cap * 2 : have + n + 256;
	if (w->fail || (b = malloc(cap)) == NULL) {
		w->fail = true;
		return (false);
	}
	if (have > 0) {
		memcpy(b + cap - have, w->p, have);
	}
	free(w->buf);
	w->buf = b;
	w->end = b + cap;
	w->p   = w->end - have;
	return (true);
}

static inline bool
rw_room(rwriter *w, size_t n)
{
	return ((size_t)(w->p - w->buf) >= n || rw_grow(w, n));
}

/* A varint in front of what is written; the room is there. */
static inline void
rw_varint(rwriter *w, uint64_t v)
{
	uint8_t *q;
	unsigned n;

	if (v < 0x80) {
		*--w->p = (uint8_t)v;
		return;
	}
	n    = (unsigned)(64 - __builtin_clzll(v) + 6) / 7;
	w->p = q = w->p - n;
	while (v >= 0x80) {
		*q++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*q = (uint8_t)v;
}

static inline void
rw_tag(rwriter *w, uint32_t id, unsigned wire)
{
	rw_varint(w, (uint64_t)id << 3 | wire);
}

static inline void
rw_bytes(rwriter *w, const void *p, size_t n)
{
	w->p -= n;
	memcpy(w->p, p, n);
}

static void rw_message(rwriter *w, const ProtobufCMessage *m, int depth);

/* A scalar's value, without its tag, room made; returns its wire type. */
static inline unsigned
rw_scalar(rwriter *w, ProtobufCType type, const void *p)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
		/* Negative: ten bytes, as int64. */
		rw_varint(w, (uint64_t)(int64_t) * (const int32_t *)p);
		return (0);
	case PROTOBUF_C_TYPE_SINT32: {
		int32_t v = *(const int32_t *)p;
		rw_varint(w, (uint32_t)(((uint32_t)v << 1) ^
		                        (uint32_t)(v >> 31)));
		return (0);
	}
	case PROTOBUF_C_TYPE_UINT32:
		rw_varint(w, *(const uint32_t *)p);
		return (0);
	case PROTOBUF_C_TYPE_SINT64: {
		int64_t v = *(const int64_t *)p;
		rw_varint(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
		return (0);
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
		rw_varint(w, *(const uint64_t *)p);
		return (0);
	case PROTOBUF_C_TYPE_BOOL:
		*--w->p = *(const protobuf_c_boolean *)p ? 1 : 0;
		return (0);
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		rw_bytes(w, p, 4); /* little-endian machines only */
		return (5);
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		rw_bytes(w, p, 8);
		return (1);
	default:
		w->fail = true;
		return (0);
	}
}

/* One value of field f at p, with its tag. */
static void
rw_field(rwriter *w, const ProtobufCFieldDescriptor *f, const void *p,
         int depth)
{
	size_t end, n;

	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *str = *(char *const *)p;
		n               = str != NULL ? strlen(str) : 0;
		if (!rw_room(w, n + RW_SCALAR_MAX)) {
			return;
		}
		if (n > 0) {
			rw_bytes(w, str, n);
		}
		rw_varint(w, n);
		rw_tag(w, f->id, 2);
		return;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = p;
		if (!rw_room(w, bd->len + RW_SCALAR_MAX)) {
			return;
		}
		if (bd->len > 0) {
			rw_bytes(w, bd->data, bd->len);
		}
		rw_varint(w, bd->len);
		rw_tag(w, f->id, 2);
		return;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		const struct rpc_pre   *pre = pre_find(w->ctx, sub);
		end                         = rw_len(w);
		if (pre != NULL) {
			if (!rw_room(w, pre->len)) {
				return;
			}
			rw_bytes(w, pre->bytes, pre->len);
		} else if (sub != NULL) {
			rw_message(w, sub, depth + 1);
		}
		if (!rw_room(w, RW_SCALAR_MAX)) {
			return;
		}
		rw_varint(w, rw_len(w) - end);
		rw_tag(w, f->id, 2);
		return;
	}
	default:
		if (rw_room(w, RW_SCALAR_MAX)) {
			rw_tag(w, f->id, rw_scalar(w, f->type, p));
		}
		return;
	}
}

/* The size of one element of a repeated field of type t. */
static size_t
rw_elt_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return (8);
	case PROTOBUF_C_TYPE_BOOL:
		return (sizeof(protobuf_c_boolean));
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return (sizeof(void *));
	case PROTOBUF_C_TYPE_BYTES:
		return (sizeof(ProtobufCBinaryData));
	default:
		return (4);
	}
}

/* Whether protobuf-c leaves an unlabeled (proto3) field out. */
static inline bool
rw_zero(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *str = *(char *const *)p;
		return (str == NULL || str[0] == '\0');
	}
	case PROTOBUF_C_TYPE_BYTES:
		return (((const ProtobufCBinaryData *)p)->len == 0);
	case PROTOBUF_C_TYPE_MESSAGE:
		return (*(ProtobufCMessage *const *)p == NULL);
	case PROTOBUF_C_TYPE_FLOAT:
		return (*(const float *)p == 0);
	case PROTOBUF_C_TYPE_DOUBLE:
		return (*(const double *)p == 0);
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
		return (*(const uint64_t *)p == 0);
	default:
		return (*(const uint32_t *)p == 0);
	}
}

static void
rw_message(rwriter *w, const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (depth > RW_MAX_DEPTH || m->n_unknown_fields > 0) {
		w->fail = true;
		return;
	}
	for (unsigned i = d->n_fields; i-- > 0 && !w->fail;) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *p   = (const char *)m + f->offset;
		const char *q   = (const char *)m + f->quantifier_offset;
		bool        ptr = f->type == PROTOBUF_C_TYPE_MESSAGE ||
		           f->type == PROTOBUF_C_TYPE_STRING;

		if (f->label == PROTOBUF_C_LABEL_NONE &&
		    !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
			if (!rw_zero(f, p)) {
				rw_field(w, f, p, depth);
			}
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t      n    = *(const size_t *)q;
			size_t      size = rw_elt_size(f->type);
			const char *arr  = *(char *const *)p;
			if (n == 0) {
				continue;
			}
			if (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) {
				size_t end = rw_len(w);
				if (!rw_room(w, n * 10 + RW_SCALAR_MAX)) {
					return;
				}
				for (size_t k = n; k-- > 0;) {
					(void)rw_scalar(w, f->type,
					                arr + k * size);
				}
				rw_varint(w, rw_len(w) - end);
				rw_tag(w, f->id, 2);
			} else {
				for (size_t k = n; k-- > 0;) {
					rw_field(w, f, arr + k * size, depth);
				}
			}
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
			rw_field(w, f, p, depth);
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)q != f->id ||
			    (ptr && (*(void *const *)p == NULL ||
			             *(void *const *)p == f->default_value))) {
				continue;
			}
		} else if (ptr ? *(void *const *)p == NULL ||
		                           *(void *const *)p ==
		                                   f->default_value
		               : !*(const protobuf_c_boolean *)q) {
			continue; /* an optional field not set */
		}
		rw_field(w, f, p, depth);
	}
}

int
rpc_pack(const rpc_ctx *ctx, const ProtobufCMessage *msg, uint8_t **base,
         const uint8_t **out, size_t *len)
{
	rwriter w   = {.ctx = ctx};
	size_t  cap = 8192;

	if ((w.buf = malloc(cap)) == NULL) {
		return (-1);
	}
	w.end = w.p = w.buf + cap;
	rw_message(&w, msg, 0);
	if (w.fail) {
		free(w.buf);
		return (-1);
	}
	*base = w.buf;
	*out  = w.p;
	*len  = rw_len(&w);
	return (0);
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
	const uint8_t *p;
	if (rpc_pack(ctx, msg, &ctx->packed, &p, &ctx->payload_len) == 0) {
		ctx->payload = (uint8_t *)p;
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
	if (role == AUTH_EXPIRED) {
		info->auth_failed = true;
		rpc_error(ctx, OFFSTAT__V1__CODE__UNAUTHENTICATED,
		          "the token has expired: ask for a new one");
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

/*
 * The envelope, written by hand: three fields and a status of three,
 * where protobuf-c would walk the descriptors twice (size, then pack) to
 * copy the payload once. The bytes are those protobuf-c writes (proto3:
 * zero, empty and NULL fields left out; fields in number order), which
 * the unit tests check by packing each reply again with protobuf-c.
 */
static size_t
varint_size(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return (n);
}

static uint8_t *
varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return (p);
}

/* A length-delimited field: key, length, bytes. */
static uint8_t *
bytes_put(uint8_t *p, unsigned field, const void *data, size_t len)
{
	*p++ = (uint8_t)(field << 3 | 2);
	p    = varint_put(p, len);
	if (len > 0) {
		memcpy(p, data, len);
	}
	return (p + len);
}

static size_t
bytes_size(size_t len)
{
	return (1 + varint_size(len) + len);
}

/*
 * Packs the RpcResponse for ctx's status into a malloc'd buffer; the
 * payload is ctx's own unless payload is given (a cached reply).
 */
static int
pack_reply(rpc_ctx *ctx, const char *request_id, const uint8_t *payload,
           size_t payload_len, void **out, size_t *outlen)
{
	const char *msg  = ctx->message != NULL ? ctx->message : "";
	size_t      mlen = strlen(msg);
	size_t      rlen = request_id != NULL ? strlen(request_id) : 0;
	/* An enum is an int32 on the wire: a negative one takes ten bytes. */
	uint64_t code = (uint64_t)(int64_t)ctx->code;
	size_t   st   = 0, n;
	uint8_t *buf, *p;

	if (payload == NULL && ctx->code == OFFSTAT__V1__CODE__OK) {
		payload     = ctx->payload;
		payload_len = ctx->payload_len;
	}
	if (ctx->code != OFFSTAT__V1__CODE__OK || payload == NULL) {
		payload_len = 0;
	}
	if (code != 0) {
		st += 1 + varint_size(code);
	}
	if (mlen > 0) {
		st += bytes_size(mlen);
	}
	for (size_t i = 0; i < ctx->ndetails; i++) {
		st += bytes_size(ctx->details[i] ? strlen(ctx->details[i])
		                                 : 0);
	}
	n = bytes_size(st);
	if (payload_len > 0) {
		n += bytes_size(payload_len);
	}
	if (rlen > 0) {
		n += bytes_size(rlen);
	}
	if ((buf = malloc(n)) == NULL) {
		return (-1);
	}
	p    = buf;
	*p++ = 1 << 3 | 2; /* status */
	p    = varint_put(p, st);
	if (code != 0) {
		*p++ = 1 << 3; /* code */
		p    = varint_put(p, code);
	}
	if (mlen > 0) {
		p = bytes_put(p, 2, msg, mlen);
	}
	for (size_t i = 0; i < ctx->ndetails; i++) {
		const char *d = ctx->details[i] ? ctx->details[i] : "";
		p             = bytes_put(p, 3, d, strlen(d));
	}
	if (payload_len > 0) {
		p = bytes_put(p, 2, payload, payload_len);
	}
	if (rlen > 0) {
		p = bytes_put(p, 3, request_id, rlen);
	}
	*outlen = (size_t)(p - buf);
	*out    = buf;
	return (0);
}

/* ---- The reply cache --------------------------------------------------
 *
 * The packed replies of read methods, per snapshot. Such a reply depends
 * only on the method, the request's payload bytes (which hold as_of,
 * confidence, paging...) and the release the snapshot holds, so a request
 * seen before is answered with the same bytes, without decoding it or
 * working it out again. Only OK replies are kept: an error may come from
 * memory running out. The cache lives in the snapshot (SNAP_SLOT_REPLIES)
 * and goes with it when a new release is published.
 *
 * Shards, each under a mutex held only to find, insert or evict, keep the
 * worker threads apart; an entry is reference-counted so that a reply is
 * copied out after its lock is let go. A full shard evicts its oldest
 * entries first. Each entry is charged its key, its reply and its header.
 */
#define RC_SHARDS  64
#define RC_BUCKETS 256 /* per shard, a power of two */

typedef struct rc_entry {
	struct rc_entry *next;  /* in its bucket */
	struct rc_entry *newer; /* in its shard's order of arrival */
	atomic_uint      refs;  /* the shard's, and each reader's */
	unsigned         method;
	uint64_t         hash;
	size_t           klen;
	size_t           vlen;
	size_t           cost;
	uint8_t          data[]; /* the key, then the reply */
} rc_entry;

typedef struct {
	pthread_mutex_t lock;
	rc_entry       *buckets[RC_BUCKETS];
	rc_entry       *oldest, *newest;
	size_t          bytes;
} rc_shard;

typedef struct {
	size_t   limit; /* bytes per shard */
	uint64_t seed;  /* keys from the wire must not choose buckets */
	rc_shard shards[RC_SHARDS];
} reply_cache;

static void
rc_entry_unref(rc_entry *e)
{
	if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) ==
	    1) {
		free(e);
	}
}

static void *
rc_make(void *arg)
{
	const size_t   *bytes = arg;
	reply_cache    *c     = calloc(1, sizeof(*c));
	struct timespec ts;

	if (c == NULL) {
		return (NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->limit = *bytes / RC_SHARDS;
	c->seed  = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
	          (uint64_t)(uintptr_t)c;
	for (size_t i = 0; i < RC_SHARDS; i++) {
		pthread_mutex_init(&c->shards[i].lock, NULL);
	}
	return (c);
}

static void
rc_destroy(void *data)
{
	reply_cache *c = data;

	for (size_t i = 0; i < RC_SHARDS; i++) {
		rc_entry *e = c->shards[i].oldest;
		while (e != NULL) {
			rc_entry *next = e->newer;
			rc_entry_unref(e);
			e = next;
		}
		pthread_mutex_destroy(&c->shards[i].lock);
	}
	free(c);
}

static uint64_t
rc_hash(const reply_cache *c, unsigned method, const uint8_t *p, size_t n)
{
	uint64_t h = snapshot_mix(c->seed ^ ((uint64_t)method << 32) ^ n);

	for (; n >= 8; p += 8, n -= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = snapshot_mix(h ^ w);
	}
	if (n > 0) {
		uint64_t w = 0;
		memcpy(&w, p, n);
		h = snapshot_mix(h ^ w ^ 0xff);
	}
	return (h);
}

/* The cache of the call's snapshot, made on first use; NULL: none. */
static reply_cache *
rc_of(rpc_ctx *ctx, const dispatch_opts *opts)
{
	size_t bytes = opts->reply_cache;
	return (snapshot_slot(ctx->snap, SNAP_SLOT_REPLIES, rc_make,
	                      rc_destroy, &bytes));
}

/* The bucket of hash in its shard. */
static rc_entry **
rc_bucket(rc_shard *sh, uint64_t hash)
{
	return (&sh->buckets[(hash >> 6) & (RC_BUCKETS - 1)]);
}

static rc_shard *
rc_shard_of(reply_cache *c, uint64_t hash)
{
	return (&c->shards[hash & (RC_SHARDS - 1)]);
}

/* The entry of shard sh (whose lock is held) for this key, or NULL. */
static rc_entry *
rc_find(rc_shard *sh, uint64_t h, unsigned method, const uint8_t *key,
        size_t klen)
{
	rc_entry *e;

	for (e = *rc_bucket(sh, h); e != NULL; e = e->next) {
		if (e->hash == h && e->method == method && e->klen == klen &&
		    (klen == 0 || memcmp(e->data, key, klen) == 0)) {
			break;
		}
	}
	return (e);
}

/* The entry for this key with a reference the caller drops, or NULL. */
static rc_entry *
rc_get(reply_cache *c, unsigned method, const uint8_t *key, size_t klen)
{
	uint64_t  h  = rc_hash(c, method, key, klen);
	rc_shard *sh = rc_shard_of(c, h);
	rc_entry *e;

	pthread_mutex_lock(&sh->lock);
	if ((e = rc_find(sh, h, method, key, klen)) != NULL) {
		atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
	}
	pthread_mutex_unlock(&sh->lock);
	return (e);
}

/* Takes e out of its shard (whose lock is held) and drops the shard's
 * reference. */
static void
rc_evict_oldest(rc_shard *sh)
{
	rc_entry  *e = sh->oldest;
	rc_entry **pp;

	for (pp = rc_bucket(sh, e->hash); *pp != e; pp = &(*pp)->next) {
	}
	*pp        = e->next;
	sh->oldest = e->newer;
	if (sh->oldest == NULL) {
		sh->newest = NULL;
	}
	sh->bytes -= e->cost;
	rc_entry_unref(e);
}

/* Keeps a copy of the reply for this key, when it fits. */
static void
rc_put(reply_cache *c, unsigned method, const uint8_t *key, size_t klen,
       const uint8_t *val, size_t vlen)
{
	uint64_t  h    = rc_hash(c, method, key, klen);
	rc_shard *sh   = rc_shard_of(c, h);
	size_t    cost = sizeof(rc_entry) + klen + vlen;
	rc_entry *e;

	if (cost > c->limit || (e = malloc(cost)) == NULL) {
		return;
	}
	atomic_init(&e->refs, 1);
	e->next   = NULL;
	e->newer  = NULL;
	e->method = method;
	e->hash   = h;
	e->klen   = klen;
	e->vlen   = vlen;
	e->cost   = cost;
	if (klen > 0) {
		memcpy(e->data, key, klen);
	}
	memcpy(e->data + klen, val, vlen);
	pthread_mutex_lock(&sh->lock);
	/* Another worker may have answered the same request meanwhile. */
	if (rc_find(sh, h, method, key, klen) == NULL) {
		while (sh->bytes + cost > c->limit && sh->oldest != NULL) {
			rc_evict_oldest(sh);
		}
		e->next           = *rc_bucket(sh, h);
		*rc_bucket(sh, h) = e;
		if (sh->newest != NULL) {
			sh->newest->newer = e;
		} else {
			sh->oldest = e;
		}
		sh->newest = e;
		sh->bytes += cost;
		e = NULL;
	}
	pthread_mutex_unlock(&sh->lock);
	free(e);
}

/*
 * Whether a method's reply may be cached: it reads the snapshot and the
 * request only. Not Ingest (a write), ServerInfo (uptime) or ListReleases
 * (what it lists depends on the caller's role).
 */
static bool
rc_method_named(const char *name)
{
	static const char *const reads[] = {
	        "GetCount",  "GetSeries",    "CompareTrend", "RankAreas",
	        "ListAreas", "ListOffences", "ListSources",
	};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		if (strcmp(name, reads[i]) == 0) {
			return (true);
		}
	}
	return (false);
}

/* The answer of rc_method_named for each method of the service, worked
 * out once rather than by name on every request. */
#define RC_MAX_METHODS 64
static pthread_once_t rc_methods_once = PTHREAD_ONCE_INIT;
static bool           rc_methods[RC_MAX_METHODS];

static void
rc_methods_init(void)
{
	const ProtobufCServiceDescriptor *d = offstat__service.base.descriptor;

	for (unsigned i = 0; i < d->n_methods && i < RC_MAX_METHODS; i++) {
		rc_methods[i] = rc_method_named(d->methods[i].name);
	}
}

static bool
rc_method(unsigned midx)
{
	pthread_once(&rc_methods_once, rc_methods_init);
	return (midx < RC_MAX_METHODS && rc_methods[midx]);
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
	reply_cache                     *cache      = NULL;
	rc_entry                        *hit        = NULL;
	unsigned                         midx       = 0;
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
	midx = (unsigned)(md - offstat__service.base.descriptor->methods);
	if (authorize(&ctx, opts, env, md, info) != 0) {
		goto reply;
	}
	/* The release this call reads; without one, the request is still
	 * decoded and checked first, so that a bad one says so. */
	ctx.snap = snapshot_current();
	if (ctx.snap != NULL && opts->reply_cache > 0 && rc_method(midx) &&
	    (cache = rc_of(&ctx, opts)) != NULL &&
	    (hit = rc_get(cache, midx, env->payload.data, env->payload.len)) !=
	            NULL) {
		ctx.answered = true;
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
	if (ctx.snap == NULL) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__UNAVAILABLE,
		          "no dataset is loaded yet");
		goto reply;
	}
	offstat__service.base.invoke(&offstat__service.base, midx, input,
	                             closure, &ctx);
	if (!ctx.answered) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INTERNAL,
		          "the handler did not answer");
	}
	if (cache != NULL && ctx.code == OFFSTAT__V1__CODE__OK &&
	    ctx.payload != NULL) {
		rc_put(cache, midx, env->payload.data, env->payload.len,
		       ctx.payload, ctx.payload_len);
	}
reply:
	info->code = ctx.code;
	rv = pack_reply(&ctx, request_id, hit ? hit->data + hit->klen : NULL,
	                hit ? hit->vlen : 0, out, outlen);
	if (hit != NULL) {
		rc_entry_unref(hit);
	}
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
	free(ctx.packed);
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
