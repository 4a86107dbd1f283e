#include "ingest_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int
iu_token(const char *path, const char *role, char *out, size_t outlen)
{
	char  cmd[1024];
	FILE *fp;

	snprintf(cmd, sizeof(cmd),
	         "'%s' token add --role %s --label test --tokens '%s' "
	         "2>/dev/null",
	         OFFSTATD, role, path);
	if ((fp = popen(cmd, "r")) == NULL) {
		return (-1);
	}
	out[0] = '\0';
	if (fgets(out, (int)outlen, fp) != NULL) {
		out[strcspn(out, "\r\n")] = '\0';
	}
	return (pclose(fp) == 0 && strncmp(out, "ost_", 4) == 0 ? 0 : -1);
}

Offstat__V1__RpcResponse *
iu_call(const char *url, const char *method, const ProtobufCMessage *msg,
        const char *token, int timeout_ms)
{
	Offstat__V1__RpcRequest   env = OFFSTAT__V1__RPC_REQUEST__INIT;
	Offstat__V1__Metadata     md  = OFFSTAT__V1__METADATA__INIT;
	Offstat__V1__Metadata    *mds[1];
	Offstat__V1__RpcResponse *r = NULL;
	char                      name[128], bearer[160];
	uint8_t                  *payload, *buf;
	size_t                    n;
	void                     *reply;
	size_t                    replylen;

	snprintf(name, sizeof(name), "offstat.v1.OffenceStats/%s", method);
	env.method     = name;
	env.request_id = "ingest-test";
	n              = protobuf_c_message_get_packed_size(msg);
	payload        = malloc(n + 1);
	env.payload.len  = protobuf_c_message_pack(msg, payload);
	env.payload.data = payload;
	if (token != NULL) {
		snprintf(bearer, sizeof(bearer), "Bearer %s", token);
		md.key         = "authorization";
		md.value       = bearer;
		mds[0]         = &md;
		env.metadata   = mds;
		env.n_metadata = 1;
	}
	n   = offstat__v1__rpc_request__get_packed_size(&env);
	buf = malloc(n + 1);
	n   = offstat__v1__rpc_request__pack(&env, buf);
	if (harness_exchange(url, buf, n, &reply, &replylen, timeout_ms) ==
	    0) {
		r = offstat__v1__rpc_response__unpack(NULL, replylen, reply);
		free(reply);
	}
	free(buf);
	free(payload);
	return (r);
}

int
iu_code(Offstat__V1__RpcResponse *r)
{
	int code = -1;
	if (r != NULL) {
		code = r->status != NULL ? (int)r->status->code : 0;
		offstat__v1__rpc_response__free_unpacked(r, NULL);
	}
	return (code);
}

Offstat__V1__RpcResponse *
iu_ingest(const char *url, const char *token, char action, const char *text,
          uint64_t release, const iu_row *rows, size_t nrows, const char *key,
          Offstat__V1__IngestResponse **resp)
{
	Offstat__V1__IngestRequest in = OFFSTAT__V1__INGEST_REQUEST__INIT;
	Offstat__V1__IngestRow    *rv = NULL, **rp = NULL;
	Offstat__V1__RpcResponse  *r;

	in.idempotency_key = (char *)(key != NULL ? key : "");
	switch (action) {
	case 'o':
		in.action_case = OFFSTAT__V1__INGEST_REQUEST__ACTION_OPEN_LABEL;
		in.open_label  = (char *)text;
		break;
	case 'c':
		in.action_case =
		        OFFSTAT__V1__INGEST_REQUEST__ACTION_COMMIT_RELEASE;
		in.commit_release = release;
		break;
	case 'a':
		in.action_case =
		        OFFSTAT__V1__INGEST_REQUEST__ACTION_ABORT_RELEASE;
		in.abort_release = release;
		break;
	default:
		in.release = release;
		rv         = calloc(nrows + 1, sizeof(*rv));
		rp         = calloc(nrows + 1, sizeof(*rp));
		for (size_t i = 0; i < nrows; i++) {
			offstat__v1__ingest_row__init(&rv[i]);
			rv[i].financial_year      = (char *)rows[i].year;
			rv[i].financial_quarter   = rows[i].quarter;
			rv[i].force_name          = (char *)rows[i].force;
			rv[i].offence_description = (char *)rows[i].description;
			rv[i].offence_group       = (char *)rows[i].group;
			rv[i].offence_subgroup    = (char *)rows[i].subgroup;
			rv[i].offence_code        = (char *)rows[i].code;
			rv[i].count               = rows[i].count;
			rp[i]                     = &rv[i];
		}
		in.rows   = rp;
		in.n_rows = nrows;
		break;
	}
	r = iu_call(url, "Ingest", &in.base, token, 30000);
	free(rv);
	free(rp);
	if (resp != NULL) {
		*resp = NULL;
		if (r != NULL && (r->status == NULL || r->status->code == 0)) {
			*resp = offstat__v1__ingest_response__unpack(
			        NULL, r->payload.len, r->payload.data);
		}
	}
	return (r);
}

int
iu_count(const char *url, const char *area, const char *offence,
         unsigned year, unsigned quarter, uint64_t as_of, uint64_t *count,
         bool *present, bool *revised, uint64_t *release)
{
	Offstat__V1__GetCountRequest  in = OFFSTAT__V1__GET_COUNT_REQUEST__INIT;
	Offstat__V1__Period           p  = OFFSTAT__V1__PERIOD__INIT;
	Offstat__V1__RpcResponse     *r;
	Offstat__V1__GetCountResponse *out;
	int                            code;

	p.year           = year;
	p.quarter        = quarter;
	in.area          = (char *)area;
	in.offence       = (char *)offence;
	in.period        = &p;
	in.as_of_release = as_of;
	r                = iu_call(url, "GetCount", &in.base, NULL, 10000);
	if (r == NULL) {
		return (-1);
	}
	code = r->status != NULL ? (int)r->status->code : 0;
	if (code == 0 &&
	    (out = offstat__v1__get_count_response__unpack(
	             NULL, r->payload.len, r->payload.data)) != NULL) {
		*count   = out->value->count;
		*present = out->value->present;
		*revised = false;
		for (size_t i = 0; i < out->value->n_flags; i++) {
			*revised |= out->value->flags[i] ==
			            OFFSTAT__V1__FLAG__REVISED;
		}
		if (release != NULL) {
			*release = strtoull(out->release, NULL, 10);
		}
		offstat__v1__get_count_response__free_unpacked(out, NULL);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (code);
}

size_t
iu_forces(const char *url, char (*names)[64], size_t max)
{
	Offstat__V1__ListAreasRequest in = OFFSTAT__V1__LIST_AREAS_REQUEST__INIT;
	Offstat__V1__PageRequest      pg = OFFSTAT__V1__PAGE_REQUEST__INIT;
	Offstat__V1__RpcResponse     *r;
	Offstat__V1__ListAreasResponse *out;
	size_t                          n = 0;

	pg.page_size = 1000;
	in.page      = &pg;
	in.kind      = OFFSTAT__V1__AREA_KIND__FORCE;
	r            = iu_call(url, "ListAreas", &in.base, NULL, 10000);
	if (r == NULL) {
		return (0);
	}
	if ((r->status == NULL || r->status->code == 0) &&
	    (out = offstat__v1__list_areas_response__unpack(
	             NULL, r->payload.len, r->payload.data)) != NULL) {
		for (size_t i = 0; i < out->n_areas && n < max; i++) {
			snprintf(names[n++], 64, "%s", out->areas[i]->name);
		}
		offstat__v1__list_areas_response__free_unpacked(out, NULL);
	}
	offstat__v1__rpc_response__free_unpacked(r, NULL);
	return (n);
}
