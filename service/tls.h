#ifndef OFFSTAT_TLS_H
#define OFFSTAT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

/*
 * The server side of TLS: the certificate and key offstatd presents on its
 * tls+tcp:// listeners and, for mutual TLS, the CA its clients'
 * certificates must chain to. Files are read once at start-up.
 */
typedef struct {
	const char *cert;      /* PEM certificate (chain), or NULL */
	const char *key;       /* PEM private key, or NULL */
	const char *key_pass;  /* the key's password, or NULL */
	const char *client_ca; /* PEM CA(s): clients must present a
	                          certificate it signed; NULL: not asked */
} tls_files;

/* True when url's scheme is a TLS transport (tls+tcp://, tls+tcp4://,
 * tls+tcp6://). */
bool tls_url(const char *url);
/*
 * Builds the server configuration from the files and, when probe is not
 * NULL, the client side of offstatd's own listener check from the same
 * certificate and key (verifying nothing, presenting the server's
 * certificate for listeners that require client certificates; left NULL
 * when the client CA did not sign that certificate). Returns 0,
 * or -1 with a message naming the file and what is wrong with it in err.
 */
int tls_server_config(nng_tls_config **out, nng_tls_config **probe,
                      const tls_files *f, char *err, size_t errlen);

#endif
