/* explicit_bzero is a BSD and glibc extension. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "client.h"

/* Where Debian (and most Linux systems) keep the trusted CAs. */
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
/* A PEM file larger than this is not a certificate or a key. */
#define TLS_MAX_FILE (1024 * 1024)

/* Reads a PEM file whole, NUL-terminated; NULL when it cannot or it is
 * not PEM. */
static char *
slurp(const char *path)
{
	FILE  *fp;
	char  *buf;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		return (NULL);
	}
	if ((buf = malloc(TLS_MAX_FILE + 1)) == NULL) {
		fclose(fp);
		return (NULL);
	}
	n = fread(buf, 1, TLS_MAX_FILE + 1, fp);
	if (ferror(fp) || n > TLS_MAX_FILE) {
		fclose(fp);
		free(buf);
		return (NULL);
	}
	fclose(fp);
	buf[n] = '\0';
	if (strstr(buf, "-----BEGIN ") == NULL) {
		free(buf);
		return (NULL);
	}
	return (buf);
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int
offstat__tls_client(nng_tls_config **out, const char *url,
                    const offstat_client_opts *o)
{
	nng_tls_config *cfg = NULL;
	nng_url        *u   = NULL;
	char           *ca = NULL, *cert = NULL, *key = NULL;
	const char     *name;
	int             rv;

	if ((rv = nng_url_parse(&u, url)) != 0) {
		return (rv == NNG_ENOMEM ? OFFSTAT_ENOMEM : OFFSTAT_EADDRINVAL);
	}
	/* The certificate must name the host dialled (or the name given):
	 * without a name mbedTLS would accept any certificate the CA
	 * signed. */
	name = o->tls_server_name != NULL ? o->tls_server_name : u->u_hostname;
	if (name == NULL || name[0] == '\0') {
		nng_url_free(u);
		return (OFFSTAT_EADDRINVAL);
	}
	rv = OFFSTAT_EFILE;
	if ((ca = slurp(o->tls_ca != NULL ? o->tls_ca : SYSTEM_CA_BUNDLE)) ==
	    NULL) {
		goto done;
	}
	if (o->tls_cert != NULL && ((cert = slurp(o->tls_cert)) == NULL ||
	                            (key = slurp(o->tls_key)) == NULL)) {
		goto done;
	}
	if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) != 0) {
		rv = OFFSTAT_ENOMEM;
		goto done;
	}
	if (nng_tls_config_ca_chain(cfg, ca, NULL) != 0 ||
	    (cert != NULL &&
	     nng_tls_config_own_cert(cfg, cert, key, o->tls_key_password) !=
	             0)) {
		rv = OFFSTAT_EFILE;
		goto done;
	}
	if (nng_tls_config_server_name(cfg, name) != 0 ||
	    nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED) != 0) {
		rv = OFFSTAT_ETRANSPORT;
		goto done;
	}
	*out = cfg;
	cfg  = NULL;
	rv   = OFFSTAT_OK;
done:
	if (cfg != NULL) {
		nng_tls_config_free(cfg);
	}
	nng_url_free(u);
	free(ca);
	free(cert);
	wipe_free(key);
	return (rv);
}
