#ifndef OFFSTAT_CLIENT_CLIENT_H
#define OFFSTAT_CLIENT_CLIENT_H

/*
 * The call machinery shared by every method: one REQ exchange per call on
 * its own nng context, the RpcRequest/RpcResponse envelope, and the
 * translation of NNG and protobuf-c failures into offstat_err values.
 */

#include <protobuf-c/protobuf-c.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "offstat/offstat.h"
#include "offstat/v1/offstat.pb-c.h"

/*
 * Called with the decoded reply of a successful call, before the reply is
 * freed: copies what it needs into arg. Returns an offstat_err value.
 */
typedef int (*offstat__convert_fn)(const ProtobufCMessage *reply, void *arg);

/*
 * offstat__call sends req to the method named method ("GetCount") and
 * waits for the reply, which it decodes as reply_desc and hands to convert.
 * The status is reset first and filled on failure.
 */
int offstat__call(offstat_client *c, const char *method,
                  const ProtobufCMessage           *req,
                  const ProtobufCMessageDescriptor *reply_desc,
                  offstat__convert_fn convert, void *arg, offstat_status *st);

/*
 * Builds the TLS configuration of a client dialling url (tls.c): the CA
 * (the system's when none is given), the server name to check (the URL's
 * host unless one is given) and the client's own certificate and key.
 * Returns an offstat_err value: OFFSTAT_EFILE when a file cannot be read,
 * is not PEM or does not load.
 */
int offstat__tls_client(nng_tls_config **out, const char *url,
                        const offstat_client_opts *o);

/* Status helpers (status.c). Each returns err, so a caller can
 * `return (offstat__status_local(st, OFFSTAT_EINVAL, "..."));`. */
void offstat__status_reset(offstat_status *st);
int  offstat__status_local(offstat_status *st, int err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;
int  offstat__status_server(offstat_status *st, int err,
                            const Offstat__V1__RpcStatus *s);
void offstat__status_request_id(offstat_status *st, const char *id);
/* Appends a line to the details, or to the message; on failure to
 * allocate, the status stays as it was. */
void offstat__status_detail(offstat_status *st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
void offstat__status_append(offstat_status *st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
void offstat__status_clear_details(offstat_status *st);

#endif
