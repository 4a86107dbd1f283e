/*
 * The entry points the fuzz targets drive, shared with the unit test that
 * replays the corpus and the regressions without libFuzzer, so a case found
 * by fuzzing is checked the same way in the ordinary test suite.
 *
 * Each fuzz_*_one() feeds one input to a parser or to the dispatcher and
 * checks what came back. It returns NULL when every property held, or a
 * sentence saying which did not (a static string, overwritten by the next
 * call). A crash, a leak or undefined behaviour is caught by the sanitizers
 * instead.
 */
#ifndef OFFSTAT_FUZZ_ENTRY_H
#define OFFSTAT_FUZZ_ENTRY_H

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "csv.h"
#include "dataset.h"
#include "dispatch.h"
#include "import.h"
#include "opendata.h"
#include "period.h"
#include "store.h"

/* Each program uses some of these, so none is an unused-function error. */
#define FUZZ_STATIC static __attribute__((unused))

FUZZ_STATIC char fuzz_why[512];

FUZZ_STATIC const char *fuzz_fail(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

FUZZ_STATIC const char *
fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(fuzz_why, sizeof(fuzz_why), fmt, ap);
	va_end(ap);
	return (fuzz_why);
}

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates). */
FUZZ_STATIC bool
fuzz_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t               i = 0;
	while (i < n) {
		unsigned c = p[i], min;
		size_t   k;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k   = 1;
			min = 0x80;
			c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k   = 2;
			min = 0x800;
			c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k   = 3;
			min = 0x10000;
			c &= 0x07;
		} else {
			return (false);
		}
		if (n - i <= k) {
			return (false);
		}
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80) {
				return (false);
			}
			c = (c << 6) | (p[i + j] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) {
			return (false);
		}
		i += k + 1;
	}
	return (true);
}

/*
 * Checks that every string in a decoded message is UTF-8, as proto3 wants
 * of a reply any protobuf implementation must be able to read. Members of
 * a oneof are looked at only when they are the one set.
 */
FUZZ_STATIC const char *
fuzz_strings(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char                       *why;

	if (depth > 32) {
		return (fuzz_fail("reply nested deeper than 32"));
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		const char *q    = (const char *)m + f->quantifier_offset;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
		    *(const uint32_t *)q != f->id) {
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t       n   = *(const size_t *)q;
			void *const *arr = *(void *const *const *)base;
			for (size_t k = 0; k < n; k++) {
				if (f->type == PROTOBUF_C_TYPE_STRING &&
				    !fuzz_utf8(arr[k], strlen(arr[k]))) {
					return (fuzz_fail(
					        "%s.%s[%zu] is not UTF-8",
					        d->name, f->name, k));
				}
				if (f->type == PROTOBUF_C_TYPE_MESSAGE &&
				    (why = fuzz_strings(arr[k], depth + 1))) {
					return (why);
				}
			}
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(const char *const *)base;
			if (s != NULL && !fuzz_utf8(s, strlen(s))) {
				return (fuzz_fail(
				        "%s.%s is not UTF-8: '%.80s'", d->name,
				        f->name, s));
			}
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *sub =
			        *(const ProtobufCMessage *const *)base;
			if (sub != NULL &&
			    (why = fuzz_strings(sub, depth + 1))) {
				return (why);
			}
		}
	}
	return (NULL);
}

/* ------------------------------------------------------------------------
 * The dispatcher, in-process over the bundled dataset.
 */

/*
 * A writer token known in advance, so seeds (and the fuzzer) can carry it
 * and a write's payload is decoded rather than refused; its SHA-256 is what
 * the tokens file holds. A test value, valid only in these programs.
 */
#define FUZZ_TOKEN                                                            \
	"ost_0000002a_"                                                       \
	"5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"
#define FUZZ_TOKEN_LINE                                                       \
	"0000002a writer "                                                    \
	"b4db1ae049e5861741586833e50a2c73811ca66882aaf739992de4ebfb5f7209 "   \
	"2026-01-01T00:00:00Z fuzz\n"

FUZZ_STATIC store *fuzz_store;
FUZZ_STATIC auth  *fuzz_auth;
FUZZ_STATIC char   fuzz_dir[64], fuzz_tokens[128];
/*
 * A request limit of 8 KiB rather than the daemon's 1 MiB: dispatch gives
 * decoding a budget of 16 times the limit (128 KiB here), which inputs of
 * libFuzzer's default 4 KiB can then exceed (1,500 empty metadata entries
 * do), so the paths where protobuf-c runs out of memory half way through a
 * message are fuzzed too, not only the happy ones.
 */
#define FUZZ_MAX_REQUEST 8192
FUZZ_STATIC dispatch_opts fuzz_opts = {.max_request = FUZZ_MAX_REQUEST};

/* A private temporary folder for the tokens files; 0 or -1. */
FUZZ_STATIC int
fuzz_tmpdir(void)
{
	if (fuzz_dir[0] != '\0') {
		return (0);
	}
	snprintf(fuzz_dir, sizeof(fuzz_dir), "/tmp/offstat-fuzz-XXXXXX");
	if (mkdtemp(fuzz_dir) == NULL) {
		fuzz_dir[0] = '\0';
		return (-1);
	}
	snprintf(fuzz_tokens, sizeof(fuzz_tokens), "%s/tokens", fuzz_dir);
	return (0);
}

/* Removes the temporary folder; fuzz targets call it at exit. */
FUZZ_STATIC void
fuzz_tmpdir_remove(void)
{
	if (fuzz_dir[0] != '\0') {
		unlink(fuzz_tokens);
		rmdir(fuzz_dir);
		fuzz_dir[0] = '\0';
	}
}

FUZZ_STATIC void
fuzz_dispatch_fini(void)
{
	snapshot_clear();
	store_close(fuzz_store);
	fuzz_store = NULL;
	auth_close(fuzz_auth);
	fuzz_auth = NULL;
	fuzz_tmpdir_remove();
}

/*
 * Seeds a ":memory:" store with the bundled dataset and publishes it, the
 * way the daemon starts, with a tokens file holding FUZZ_TOKEN. Returns 0,
 * or -1 with a message on stderr.
 */
FUZZ_STATIC int
fuzz_dispatch_init(void)
{
	char      err[512];
	snapshot *snap;
	FILE     *f;

	if (fuzz_store != NULL) {
		return (0);
	}
	if (fuzz_tmpdir() != 0 || (f = fopen(fuzz_tokens, "w")) == NULL) {
		perror("fuzz: a tokens file");
		return (-1);
	}
	fputs(FUZZ_TOKEN_LINE, f);
	fclose(f);
	if (auth_open(&fuzz_auth, fuzz_tokens, err, sizeof(err)) != 0 ||
	    auth_check(fuzz_auth, "Bearer " FUZZ_TOKEN) != AUTH_WRITER) {
		fprintf(stderr, "fuzz: the test token is not a writer's\n");
		fuzz_dispatch_fini();
		return (-1);
	}
	fuzz_opts.auth = fuzz_auth;
	if (store_open(&fuzz_store, ":memory:", err, sizeof(err)) != 0 ||
	    dataset_seed(fuzz_store, err, sizeof(err)) != 0 ||
	    store_load_snapshot(fuzz_store, &snap, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: seeding the store: %s\n", err);
		fuzz_dispatch_fini();
		return (-1);
	}
	snapshot_publish(snap);
	handlers_started();
	return (0);
}

/*
 * Checks one reply: it decodes as an RpcResponse with a known status code
 * that matches what dispatch reported; a failure carries a message and no
 * payload; a success carries a payload that decodes as the method's
 * response; every string in it is UTF-8. want_id, when not NULL, is the
 * request id the reply must echo.
 */
FUZZ_STATIC const char *
fuzz_check_reply(const void *out, size_t outlen, const dispatch_info *info,
                 const char *want_id)
{
	const ProtobufCServiceDescriptor *sd =
	        offstat__service.base.descriptor;
	const ProtobufCMethodDescriptor *md;
	Offstat__V1__RpcResponse        *r;
	ProtobufCMessage                *body = NULL;
	const char                      *why  = NULL;

	r = offstat__v1__rpc_response__unpack(NULL, outlen, out);
	if (r == NULL) {
		return (fuzz_fail("the reply is not an RpcResponse"));
	}
	if (r->status == NULL) {
		why = fuzz_fail("the reply has no status");
		goto done;
	}
	if ((int)r->status->code < 0 ||
	    r->status->code > OFFSTAT__V1__CODE__UNAUTHENTICATED) {
		why = fuzz_fail("status code %d is not a Code",
		                (int)r->status->code);
		goto done;
	}
	if ((int)r->status->code != info->code) {
		why = fuzz_fail("reply status %d but dispatch reported %d",
		                (int)r->status->code, info->code);
		goto done;
	}
	if (want_id != NULL && strcmp(r->request_id, want_id) != 0) {
		why = fuzz_fail("request id '%.60s' came back as '%.60s'",
		                want_id, r->request_id);
		goto done;
	}
	if ((why = fuzz_strings(&r->base, 0)) != NULL) {
		goto done;
	}
	if (r->status->code != OFFSTAT__V1__CODE__OK) {
		if (r->payload.len != 0) {
			why = fuzz_fail("status %s with a payload",
			                dispatch_code_name(r->status->code));
		} else if (r->status->message[0] == '\0') {
			why = fuzz_fail("status %s without a message",
			                dispatch_code_name(r->status->code));
		}
		goto done;
	}
	md = protobuf_c_service_descriptor_get_method_by_name(sd,
	                                                      info->method);
	if (md == NULL) {
		why = fuzz_fail("OK from unknown method '%s'", info->method);
		goto done;
	}
	body = protobuf_c_message_unpack(md->output, NULL, r->payload.len,
	                                 r->payload.data);
	if (body == NULL) {
		why = fuzz_fail("the %s payload does not decode",
		                md->output->name);
		goto done;
	}
	why = fuzz_strings(body, 0);
done:
	if (body != NULL) {
		protobuf_c_message_free_unpacked(body, NULL);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (why);
}

/* The input is a whole envelope, as it would arrive on the socket. */
FUZZ_STATIC const char *
fuzz_dispatch_one(const uint8_t *data, size_t size)
{
	void         *out    = NULL;
	size_t        outlen = 0;
	dispatch_info info;
	const char   *why;

	if (dispatch_request(data, size, &fuzz_opts, &out, &outlen, &info) !=
	    0) {
		return (NULL); /* out of memory: allowed, and said so */
	}
	why = fuzz_check_reply(out, outlen, &info, NULL);
	free(out);
	return (why);
}

/* The input is a payload, wrapped in turn in an envelope for every method
 * of the service, so every request decoder and handler sees it. */
FUZZ_STATIC const char *
fuzz_methods_one(const uint8_t *data, size_t size)
{
	const ProtobufCServiceDescriptor *sd =
	        offstat__service.base.descriptor;
	const char *why = NULL;

	for (unsigned i = 0; i < sd->n_methods && why == NULL; i++) {
		Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
		Offstat__V1__Metadata   md  = OFFSTAT__V1__METADATA__INIT;
		Offstat__V1__Metadata  *mdp = &md;
		char                    method[128];
		uint8_t                *buf;
		void                   *out = NULL;
		size_t                  n, outlen = 0;
		dispatch_info           info;

		snprintf(method, sizeof(method), "%s%s", RPC_METHOD_PREFIX,
		         sd->methods[i].name);
		env.method       = method;
		env.payload.data = (uint8_t *)data;
		env.payload.len  = size;
		env.request_id   = "fuzz";
		md.key           = "authorization";
		md.value         = "Bearer " FUZZ_TOKEN;
		env.n_metadata   = 1;
		env.metadata     = &mdp;
		if ((buf = malloc(
		             offstat__v1__rpc_request__get_packed_size(&env) +
		             1)) == NULL) {
			return (NULL);
		}
		n = offstat__v1__rpc_request__pack(&env, buf);
		if (dispatch_request(buf, n, &fuzz_opts, &out, &outlen,
		                     &info) == 0) {
			why = fuzz_check_reply(out, outlen, &info, "fuzz");
			if (why == NULL &&
			    strcmp(info.method, sd->methods[i].name) != 0) {
				why = fuzz_fail("%s was answered as %s",
				                sd->methods[i].name,
				                info.method);
			}
			free(out);
		}
		free(buf);
	}
	return (why);
}

/* ------------------------------------------------------------------------
 * The CSV reader.
 */
FUZZ_STATIC const char *
fuzz_csv_one(const uint8_t *data, size_t size)
{
	csv_reader        *r;
	size_t             nf;
	const char *const *fields;
	unsigned           line, last = 0;
	size_t             records = 0;
	const char        *why     = NULL;
	int                rc;

	if (csv_open(&r, (const char *)data, size) != 0) {
		return (NULL);
	}
	while ((rc = csv_next(r, &nf, &fields, &line)) != 0 && rc != -2) {
		/* Every call consumes at least one byte or one line end. */
		if (++records > size + 1) {
			why = fuzz_fail("%zu records from %zu bytes", records,
			                size);
			break;
		}
		if (line < last || line == 0) {
			why = fuzz_fail("line %u after line %u", line, last);
			break;
		}
		last = line;
		if (rc == -1) {
			if (csv_error(r)[0] == '\0') {
				why = fuzz_fail(
				        "line %u: bad without a reason", line);
				break;
			}
			continue;
		}
		if (rc != 1) {
			why = fuzz_fail("csv_next returned %d", rc);
			break;
		}
		if (nf == 0 || nf > CSV_MAX_FIELDS) {
			why = fuzz_fail("line %u: %zu fields", line, nf);
			break;
		}
		const size_t *lens = csv_lengths(r);
		for (size_t i = 0; i < nf; i++) {
			if (lens[i] > CSV_MAX_FIELD ||
			    strlen(fields[i]) != lens[i]) {
				why = fuzz_fail(
				        "line %u field %zu: length %zu "
				        "for %zu bytes",
				        line, i, lens[i], strlen(fields[i]));
				break;
			}
		}
		if (why != NULL) {
			break;
		}
	}
	csv_close(r);
	return (why);
}

/* ------------------------------------------------------------------------
 * The open data row validator, with a resolver over a few force names.
 */
FUZZ_STATIC const struct {
	const char *name;
	const char *code;
} fuzz_forces[] = {
        {"Dorset", "E23000039"},          {"Devon and Cornwall", "E23000035"},
        {"Wiltshire", "E23000038"},       {"Metropolitan Police", "E23000001"},
        {"Gwent", "W15000004"},           {"British Transport Police", "BTP"},
        {"Action Fraud", "ACTION_FRAUD"},
};
#define FUZZ_NFORCES (sizeof(fuzz_forces) / sizeof(fuzz_forces[0]))

/* Answers in a buffer it overwrites, so a kept pointer would show. */
FUZZ_STATIC const char *
fuzz_resolve(void *arg, const char *name)
{
	char *buf = arg;
	memset(buf, 'X', 31);
	buf[31] = '\0';
	for (size_t i = 0; i < FUZZ_NFORCES; i++) {
		if (strcmp(fuzz_forces[i].name, name) == 0) {
			snprintf(buf, 32, "%s", fuzz_forces[i].code);
			return (buf);
		}
	}
	return (NULL);
}

FUZZ_STATIC bool
fuzz_known_area(const char *code)
{
	for (size_t i = 0; i < FUZZ_NFORCES; i++) {
		if (strcmp(fuzz_forces[i].code, code) == 0) {
			return (true);
		}
	}
	return (false);
}

FUZZ_STATIC const char *
fuzz_opendata_one(const uint8_t *data, size_t size)
{
	char        buf[32];
	od_file     f;
	const char *why = NULL;
	int         rc;

	memset(&f, 0, sizeof(f));
	rc = od_parse((const char *)data, size, fuzz_resolve, buf, &f);
	if (rc == -1 && f.nrows != 0) {
		why = fuzz_fail("a rejected file with %zu rows", f.nrows);
	}
	if (f.nerrors > f.nbad + 1 || f.nerrors > OD_MAX_ERRORS + 1) {
		why = fuzz_fail("%zu messages for %zu bad lines", f.nerrors,
		                f.nbad);
	}
	for (size_t i = 0; i < f.nerrors && why == NULL; i++) {
		if (f.errors[i] == NULL ||
		    !fuzz_utf8(f.errors[i], strlen(f.errors[i]))) {
			why = fuzz_fail("message %zu is not UTF-8", i);
		}
	}
	for (size_t i = 0; i < f.nrows && why == NULL; i++) {
		const od_row *r = &f.rows[i];
		if (r->year < 1990 || r->year > 2100 || r->quarter < 1 ||
		    r->quarter > 4 || r->count > OD_MAX_COUNT || r->line < 2 ||
		    !fuzz_known_area(r->area) || strlen(r->code) == 0 ||
		    strlen(r->code) > OD_MAX_CODE || r->force[0] == '\0' ||
		    r->description[0] == '\0' || r->group[0] == '\0' ||
		    r->subgroup[0] == '\0' ||
		    !fuzz_utf8(r->description, strlen(r->description))) {
			why = fuzz_fail("line %u: a bad row was accepted",
			                r->line);
		}
		for (size_t j = 0; j < i && why == NULL; j++) {
			const od_row *o = &f.rows[j];
			if (o->year == r->year && o->quarter == r->quarter &&
			    strcmp(o->area, r->area) == 0 &&
			    strcmp(o->code, r->code) == 0) {
				why = fuzz_fail("lines %u and %u: duplicate "
				                "rows accepted",
				                o->line, r->line);
			}
		}
	}
	od_file_free(&f);
	return (why);
}

/* ------------------------------------------------------------------------
 * Periods: text as people write it, and parts as the wire carries them.
 * A period that parses has a label that parses back to it.
 */
FUZZ_STATIC const char *
fuzz_period_one(const uint8_t *data, size_t size)
{
	char   text[256], label[PERIOD_LABEL_MAX];
	period p, q;
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	memcpy(text, data, n);
	text[n] = '\0';
	if (period_parse(text, &p) == 0) {
		period_label(&p, label, sizeof(label));
		if (period_parse(label, &q) != 0 || !period_equal(&p, &q)) {
			return (fuzz_fail("'%s' is labelled '%s', which does "
			                  "not parse back",
			                  text, label));
		}
	}
	if (size >= 6) {
		unsigned year    = (unsigned)data[0] | (unsigned)data[1] << 8;
		unsigned quarter = data[2] | (unsigned)data[3] << 8;
		unsigned kind    = data[4] | (unsigned)data[5] << 8;
		if (period_make(year, quarter, kind, &p) == 0) {
			period_label(&p, label, sizeof(label));
			if (period_parse(label, &q) != 0 ||
			    !period_equal(&p, &q)) {
				return (fuzz_fail("(%u, %u, %u) is labelled "
				                  "'%s', which does not parse "
				                  "back",
				                  year, quarter, kind, label));
			}
		}
	}
	return (NULL);
}

/* ------------------------------------------------------------------------
 * The tokens file and the authorization value: the input's first line is
 * the value, the rest the file, which auth_open() reads from disk.
 */
FUZZ_STATIC const char *
fuzz_tokens_one(const uint8_t *data, size_t size)
{
	const uint8_t *nl   = memchr(data, '\n', size);
	size_t         vlen = nl != NULL ? (size_t)(nl - data) : size;
	char           value[512], err[256];
	auth          *a;
	FILE          *f;
	int            role;

	if (fuzz_tmpdir() != 0) {
		return (fuzz_fail("no temporary folder"));
	}
	if ((f = fopen(fuzz_tokens, "wb")) == NULL) {
		return (fuzz_fail("cannot write %s", fuzz_tokens));
	}
	if (nl != NULL) {
		fwrite(nl + 1, 1, size - vlen - 1, f);
	}
	fclose(f);
	if (vlen > sizeof(value) - 1) {
		vlen = sizeof(value) - 1;
	}
	memcpy(value, data, vlen);
	value[vlen] = '\0';
	err[0]      = '\0';
	if (auth_open(&a, fuzz_tokens, err, sizeof(err)) != 0) {
		return (err[0] != '\0' ? NULL
		                       : fuzz_fail("a bad file without a "
		                                   "reason"));
	}
	role = auth_check(a, value);
	auth_close(a);
	if (role != AUTH_MISSING && role != AUTH_INVALID &&
	    role != AUTH_EXPIRED &&
	    (role < AUTH_READER || role > AUTH_ADMIN)) {
		return (fuzz_fail("auth_check gave %d", role));
	}
	if ((role >= AUTH_READER || role == AUTH_EXPIRED) &&
	    strlen(value) != 7 + AUTH_TOKEN_LEN) {
		return (fuzz_fail("'%.80s' was accepted", value));
	}
	return (NULL);
}

/* ------------------------------------------------------------------------
 * offstatd's config file, and the same values given as flags. The input is
 * the file; its first line (up to 300 bytes) is also given to every key as
 * a flag. The file is accepted with every value checked as a flag's would
 * be, or refused with a message that names the file; the password is never
 * printed by --print-config.
 */
#define FUZZ_SECRET_LINE "tls_key_password = ********"

/* The number of lines of data[0..size), as a line counter sees them. */
FUZZ_STATIC unsigned
fuzz_lines(const uint8_t *data, size_t size)
{
	unsigned n = 1;
	for (size_t i = 0; i < size; i++) {
		n += data[i] == '\n';
	}
	return (n);
}

/*
 * Whether checking the http key's value v twice must give the same answer:
 * "off", a value refused by its shape before any lookup, or a numeric
 * host. A host name is looked up, and a lookup can fail once and not the
 * next time.
 */
FUZZ_STATIC bool
fuzz_http_stable(const char *v)
{
	char        host[256];
	const char *colon, *start = v;
	size_t      n;

	if (strcmp(v, "off") == 0) {
		return (true);
	}
	if (v[0] == '[') {
		const char *end = strchr(v, ']');
		if (end == NULL) {
			return (true);
		}
		start = v + 1;
		n     = (size_t)(end - start);
	} else if ((colon = strrchr(v, ':')) == NULL) {
		return (true);
	} else {
		n = (size_t)(colon - v);
	}
	if (n == 0 || n >= sizeof(host)) {
		return (true);
	}
	memcpy(host, start, n);
	host[n] = '\0';
	uint8_t addr[16];
	return (inet_pton(AF_INET, host, addr) == 1 ||
	        inet_pton(AF_INET6, host, addr) == 1);
}

/* Checks what --print-config writes for c. */
FUZZ_STATIC const char *
fuzz_config_print(const cfg *c)
{
	char       *text = NULL, *line;
	size_t      len  = 0;
	FILE       *out  = open_memstream(&text, &len);
	const char *why  = NULL;
	unsigned    n    = 0;

	if (out == NULL) {
		return (NULL);
	}
	cfg_print(c, out);
	fclose(out);
	for (line = text; line != NULL && *line != '\0' && why == NULL; n++) {
		char *end = strchr(line, '\n');
		if (strncmp(line, "tls_key_password ", 17) == 0 &&
		    cfg_get(c, CFG_TLS_KEY_PASSWORD) != NULL &&
		    strncmp(line, FUZZ_SECRET_LINE,
		            strlen(FUZZ_SECRET_LINE)) != 0) {
			why = fuzz_fail("--print-config shows the password: "
			                "'%.80s'",
			                line);
		}
		line = end != NULL ? end + 1 : NULL;
	}
	if (why == NULL && n != CFG_NKEYS) {
		why = fuzz_fail("--print-config wrote %u lines for %d keys", n,
		                (int)CFG_NKEYS);
	}
	free(text);
	return (why);
}

FUZZ_STATIC const char *
fuzz_config_one(const uint8_t *data, size_t size)
{
	char        path[160], err[1024], value[301];
	const char *why = NULL;
	cfg         c;
	FILE       *f;
	size_t      vlen;
	int         rc;

	if (fuzz_tmpdir() != 0) {
		return (fuzz_fail("no temporary folder"));
	}
	snprintf(path, sizeof(path), "%s/offstatd.conf", fuzz_dir);
	if ((f = fopen(path, "wb")) == NULL) {
		return (fuzz_fail("cannot write %s", path));
	}
	fwrite(data, 1, size, f);
	fclose(f);

	memset(&c, 0, sizeof(c));
	err[0] = '\0';
	rc     = cfg_file(&c, path, err, sizeof(err));
	if (rc != 0 && strncmp(err, path, strlen(path)) != 0 &&
	    strcmp(err, "out of memory") != 0) {
		why = fuzz_fail("a refused file, and the message does not "
		                "name it: '%.200s'",
		                err);
	}
	for (int k = 0; k < CFG_NKEYS && rc == 0 && why == NULL; k++) {
		const char *v = cfg_get(&c, (cfg_key)k);
		cfg         one;
		unsigned    line;
		char        rest;

		if (v == NULL) {
			continue;
		}
		if (c.source[k] != CFG_FROM_FILE ||
		    strncmp(c.origin[k], path, strlen(path)) != 0 ||
		    sscanf(c.origin[k] + strlen(path), ":%u%c", &line,
		           &rest) != 1 ||
		    line == 0 || line > fuzz_lines(data, size)) {
			why = fuzz_fail("%s came from '%.200s'",
			                cfg_flag_name((cfg_key)k),
			                c.origin[k]);
			break;
		}
		/* What the file accepts, the flag accepts. */
		if (k == CFG_HTTP && !fuzz_http_stable(v)) {
			continue;
		}
		memset(&one, 0, sizeof(one));
		if (cfg_flag(&one, (cfg_key)k, cfg_flag_name((cfg_key)k), v,
		             err, sizeof(err)) != 0) {
			why = fuzz_fail(
			        "the file's %s '%.100s' is refused as a "
			        "flag: %.200s",
			        cfg_flag_name((cfg_key)k), v, err);
		}
		cfg_free(&one);
	}
	if (why == NULL) {
		why = fuzz_config_print(&c);
	}
	cfg_free(&c);

	/* The first line as every flag. */
	vlen = memchr(data, '\n', size) != NULL
	               ? (size_t)((const uint8_t *)memchr(data, '\n', size) -
	                          data)
	               : size;
	vlen = vlen < sizeof(value) - 1 ? vlen : sizeof(value) - 1;
	memcpy(value, data, vlen);
	value[vlen] = '\0'; /* an earlier NUL ends it sooner */
	for (int k = 0; k < CFG_NKEYS && why == NULL; k++) {
		memset(&c, 0, sizeof(c));
		err[0] = '\0';
		if (cfg_flag(&c, (cfg_key)k, cfg_flag_name((cfg_key)k), value,
		             err, sizeof(err)) != 0) {
			if (strncmp(err, cfg_flag_name((cfg_key)k),
			            strlen(cfg_flag_name((cfg_key)k))) != 0 &&
			    strcmp(err, "out of memory") != 0) {
				why = fuzz_fail("%s refused without naming "
				                "it: '%.200s'",
				                cfg_flag_name((cfg_key)k),
				                err);
			}
		} else if (cfg_get(&c, (cfg_key)k) == NULL ||
		           strcmp(cfg_get(&c, (cfg_key)k), value) != 0) {
			why = fuzz_fail("%s '%.100s' was kept as '%.100s'",
			                cfg_flag_name((cfg_key)k), value,
			                cfg_get(&c, (cfg_key)k) != NULL
			                        ? cfg_get(&c, (cfg_key)k)
			                        : "(nothing)");
		} else {
			why = fuzz_config_print(&c);
		}
		cfg_free(&c);
	}
	unlink(path);
	return (why);
}

/* ------------------------------------------------------------------------
 * The importer, whole: an open data file parsed, checked and written to a
 * database seeded with the bundled dataset. A file refused records
 * nothing; a file accepted records one release when it changed a figure
 * and none when it did not; the same file again changes nothing; and
 * SQLite's integrity check passes after every file that changed something.
 * The database is started again every FUZZ_IMPORT_LOADS such files, so it
 * does not grow without end.
 */
#define FUZZ_IMPORT_LOADS 256

FUZZ_STATIC store    *fuzz_import_store;
FUZZ_STATIC snapshot *fuzz_import_snap;
FUZZ_STATIC unsigned  fuzz_import_loads;

FUZZ_STATIC void
fuzz_import_fini(void)
{
	snapshot_unref(fuzz_import_snap);
	fuzz_import_snap = NULL;
	store_close(fuzz_import_store);
	fuzz_import_store = NULL;
}

/* 0, or -1 with a message on stderr. */
FUZZ_STATIC int
fuzz_import_init(void)
{
	char err[512];

	if (fuzz_import_store != NULL) {
		return (0);
	}
	fuzz_import_loads = 0;
	if (store_open(&fuzz_import_store, ":memory:", err, sizeof(err)) !=
	            0 ||
	    dataset_seed(fuzz_import_store, err, sizeof(err)) != 0 ||
	    store_load_snapshot(fuzz_import_store, &fuzz_import_snap, err,
	                        sizeof(err)) != 0) {
		fprintf(stderr, "fuzz: seeding the store: %s\n", err);
		fuzz_import_fini();
		return (-1);
	}
	return (0);
}

static int
fuzz_count_release(void *arg, const store_release_row *r)
{
	(void)r;
	(*(size_t *)arg)++;
	return (0);
}

FUZZ_STATIC size_t
fuzz_releases(void)
{
	char   err[256];
	size_t n = 0;
	if (store_releases(fuzz_import_store, fuzz_count_release, &n, err,
	                   sizeof(err)) != 0) {
		return ((size_t)-1);
	}
	return (n);
}

/* Imports the file once and checks what was recorded; *again says
 * whether to try the same file a second time. */
FUZZ_STATIC const char *
fuzz_import_once(const uint8_t *data, size_t size, bool skip_bad,
                 const char *label, bool *accepted, import_result *res)
{
	import_opts opts = {.skip_bad = skip_bad, .label = label};
	char        err[512];
	size_t      before = fuzz_releases(), after;
	int         rc;

	err[0] = '\0';
	rc     = import_buffer(fuzz_import_store, fuzz_import_snap, "fuzz.csv",
	                       (const char *)data, size, &opts, NULL, NULL, res,
	                       err, sizeof(err));
	after  = fuzz_releases();
	*accepted = rc == 0;
	if (before == (size_t)-1 || after == (size_t)-1) {
		return (fuzz_fail("the releases could not be listed"));
	}
	if (rc != 0) {
		if (err[0] == '\0') {
			return (fuzz_fail("a refused file without a reason"));
		}
		if (after != before) {
			return (fuzz_fail("a refused file recorded %zu "
			                  "releases: %s",
			                  after - before, err));
		}
		return (NULL);
	}
	if (res->changed > 0 && (after != before + 1 || res->release == 0 ||
	                         res->changed > res->rows)) {
		return (fuzz_fail("%llu figures changed: %zu releases "
		                  "recorded, release %llu, %llu rows",
		                  (unsigned long long)res->changed,
		                  after - before,
		                  (unsigned long long)res->release,
		                  (unsigned long long)res->rows));
	}
	if (res->changed == 0 && (after != before || res->release != 0)) {
		return (fuzz_fail("nothing changed, yet %zu releases were "
		                  "recorded",
		                  after - before));
	}
	if (!skip_bad && res->bad != 0) {
		return (fuzz_fail("%llu bad rows accepted",
		                  (unsigned long long)res->bad));
	}
	return (NULL);
}

FUZZ_STATIC const char *
fuzz_import_one(const uint8_t *data, size_t size)
{
	import_result res, again;
	const char   *why;
	bool          ok = false, ok2 = false;
	char          err[256];

	if (fuzz_import_store != NULL &&
	    fuzz_import_loads >= FUZZ_IMPORT_LOADS) {
		fuzz_import_fini();
	}
	if (fuzz_import_init() != 0) {
		return (fuzz_fail("no database"));
	}
	why = fuzz_import_once(data, size, false, NULL, &ok, &res);
	if (why == NULL && !ok && res.bad > 0) {
		/* Refused for bad rows: the good ones, with --skip-bad. */
		why = fuzz_import_once(data, size, true, NULL, &ok, &res);
	}
	if (why == NULL && ok && res.changed > 0) {
		fuzz_import_loads++;
		if (store_check(fuzz_import_store, err, sizeof(err)) != 0) {
			return (fuzz_fail("after %llu figures changed: %s",
			                  (unsigned long long)res.changed,
			                  err));
		}
	}
	if (why == NULL && ok) {
		why = fuzz_import_once(data, size, true, "again", &ok2,
		                       &again);
		if (why == NULL &&
		    (!ok2 || again.changed != 0 || again.rows != res.rows)) {
			why = fuzz_fail("the same file again: %s, %llu of "
			                "%llu rows changed (first %llu rows)",
			                ok2 ? "accepted" : "refused",
			                (unsigned long long)again.changed,
			                (unsigned long long)again.rows,
			                (unsigned long long)res.rows);
		}
	}
	return (why);
}

#endif
