#include "dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "log.h"

/* Length of the well-formed UTF-8 sequence at p, or 0 when it is not one. */
static int
utf8_seq(const unsigned char *p)
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
	unsigned char *p = (unsigned char *)s;
	while (*p != '\0') {
		int n = utf8_seq(p);
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

/* True when s is well-formed UTF-8 (protobuf strings must be). */
static bool
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p != '\0') {
		int n = utf8_seq(p);
		if (n == 0) {
			return (false);
		}
		p += n;
	}
	return (true);
}

/* Walks a decoded message and checks every string field is UTF-8, as
 * proto3 requires and protobuf-c does not check. */
static bool
strings_valid(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	if (depth > 16) {
		return (false);
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		/* Members of a oneof share storage: only the one set may
		 * be read (a uint64 read as a string pointer crashes). */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)((const char *)m +
		                        f->quantifier_offset) != f->id) {
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t       n   = *(const size_t *)((const char *)m +
                                                     f->quantifier_offset);
			void *const *arr = *(void *const *const *)base;
			for (size_t k = 0; k < n; k++) {
				if (f->type == PROTOBUF_C_TYPE_STRING &&
				    !utf8_valid(arr[k])) {
					return (false);
				}
				if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
				    !strings_valid(arr[k], depth + 1)) {
					return (false);
				}
			}
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(const char *const *)base;
			if (s != NULL && !utf8_valid(s)) {
				return (false);
			}
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub =
			        *(const ProtobufCMessage *const *)base;
			if (sub != NULL && !strings_valid(sub, depth + 1)) {
				return (false);
			}
		}
	}
	return (true);
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
	int                              rv;

	memset(&ctx, 0, sizeof(ctx));
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
	env = offstat__v1__rpc_request__unpack(NULL, len, req);
	if (env == NULL) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the request is not an offstat.v1.RpcRequest");
		goto reply;
	}
	if (!strings_valid(&env->base, 0)) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the request envelope holds a string that is not "
		          "UTF-8");
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
	input = protobuf_c_message_unpack(md->input, NULL, env->payload.len,
	                                  env->payload.data);
	if (input == NULL) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the payload is not a %s", md->input->name);
		goto reply;
	}
	if (!strings_valid(input, 0)) {
		rpc_error(&ctx, OFFSTAT__V1__CODE__INVALID_ARGUMENT,
		          "the %s holds a string that is not UTF-8",
		          md->input->name);
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
	if (input != NULL) {
		protobuf_c_message_free_unpacked(input, NULL);
	}
	if (env != NULL) {
		offstat__v1__rpc_request__free_unpacked(env, NULL);
	}
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
