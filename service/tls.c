/* explicit_bzero is a BSD and glibc extension. */
#define _DEFAULT_SOURCE
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/pk.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

/* A PEM file larger than this is not a certificate or a key. */
#define TLS_MAX_FILE (1024 * 1024)

bool
tls_url(const char *url)
{
	return (url != NULL && strncmp(url, "tls+", 4) == 0);
}

/* Reads a whole file as a NUL-terminated string; NULL with a message in
 * err when it cannot. */
static char *
slurp(const char *what, const char *path, char *err, size_t errlen)
{
	FILE  *fp;
	char  *buf;
	size_t n;

	if ((fp = fopen(path, "rb")) == NULL) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return (NULL);
	}
	if ((buf = malloc(TLS_MAX_FILE + 1)) == NULL) {
		fclose(fp);
		snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	n = fread(buf, 1, TLS_MAX_FILE + 1, fp);
	if (ferror(fp) || n > TLS_MAX_FILE) {
		snprintf(err, errlen, "%s %s: %s", what, path,
		         ferror(fp) ? strerror(errno) : "larger than 1 MiB");
		fclose(fp);
		free(buf);
		return (NULL);
	}
	fclose(fp);
	buf[n] = '\0';
	if (strstr(buf, "-----BEGIN ") == NULL) {
		snprintf(err, errlen, "%s %s: not a PEM file", what, path);
		free(buf);
		return (NULL);
	}
	return (buf);
}

#if MBEDTLS_VERSION_MAJOR >= 3
/* mbedTLS 3 wants randomness for RSA blinding in the checks below. */
static int
rng(void *arg, unsigned char *buf, size_t len)
{
	(void)arg;
	while (len > 0) {
		ssize_t n = getrandom(buf, len, 0);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}
#endif

/*
 * nng hands the certificate and key to mbedTLS without checking that they
 * belong together; a mismatch would only show as every handshake failing.
 * mbedTLS (the library nng uses for TLS) checks the pair here. Returns 0,
 * or -1 with a message.
 */
static int
check_pair(const tls_files *f, const char *cert, const char *key, char *err,
           size_t errlen)
{
	mbedtls_x509_crt   crt;
	mbedtls_pk_context pk;
	const char        *pw    = f->key_pass;
	size_t             pwlen = pw != NULL ? strlen(pw) : 0;
	int                rv;

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&pk);
	if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert,
	                           strlen(cert) + 1) != 0) {
		snprintf(err, errlen,
		         "tls_cert %s: not a certificate mbedTLS can read",
		         f->cert);
		rv = -1;
		goto done;
	}
#if MBEDTLS_VERSION_MAJOR >= 3
	rv = mbedtls_pk_parse_key(&pk, (const unsigned char *)key,
	                          strlen(key) + 1, (const unsigned char *)pw,
	                          pwlen, rng, NULL);
#else
	rv = mbedtls_pk_parse_key(&pk, (const unsigned char *)key,
	                          strlen(key) + 1, (const unsigned char *)pw,
	                          pwlen);
#endif
	if (rv != 0) {
		snprintf(err, errlen,
		         "tls_key %s: not a private key mbedTLS can read%s",
		         f->key,
		         pw == NULL ? " (if it is encrypted, set "
		                      "tls_key_password)"
		                    : " with the password given "
		                      "(tls_key_password; a PKCS#8 key "
		                      "encrypted with AES, as OpenSSL 3 "
		                      "writes by default, needs converting: "
		                      "openssl pkey -traditional)");
		rv = -1;
		goto done;
	}
#if MBEDTLS_VERSION_MAJOR >= 3
	rv = mbedtls_pk_check_pair(&crt.pk, &pk, rng, NULL);
#else
	rv = mbedtls_pk_check_pair(&crt.pk, &pk);
#endif
	if (rv != 0) {
		snprintf(err, errlen,
		         "tls_key %s is not the key of the certificate in "
		         "tls_cert %s",
		         f->key, f->cert);
		rv = -1;
	}
done:
	mbedtls_pk_free(&pk);
	mbedtls_x509_crt_free(&crt);
	return (rv);
}

/* Whether the client CA signed the server's own certificate: only then
 * can the listener check, which presents it, pass a listener that
 * requires client certificates. */
static bool
ca_accepts(const char *cert, const char *ca)
{
	mbedtls_x509_crt crt, chain;
	uint32_t         flags = 0;
	bool             ok;

	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&chain);
	ok = mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert,
	                            strlen(cert) + 1) == 0 &&
	     mbedtls_x509_crt_parse(&chain, (const unsigned char *)ca,
	                            strlen(ca) + 1) == 0 &&
	     mbedtls_x509_crt_verify(&crt, &chain, NULL, NULL, &flags, NULL,
	                             NULL) == 0;
	mbedtls_x509_crt_free(&chain);
	mbedtls_x509_crt_free(&crt);
	return (ok);
}

/*
 * The client side of offstatd's own listener check, from the server's
 * certificate and key already read: it verifies nothing (it only needs an
 * answer) and presents the server's certificate, for listeners that
 * require client certificates.
 */
static int
probe_config(nng_tls_config **out, const tls_files *f, const char *cert,
             const char *key, char *err, size_t errlen)
{
	nng_tls_config *cfg;
	int             rv;

	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE)) !=
	            0 ||
	    (rv = nng_tls_config_own_cert(cfg, cert, key, f->key_pass)) != 0) {
		if (cfg != NULL) {
			nng_tls_config_free(cfg);
		}
		snprintf(err, errlen, "TLS for the listener check: %s",
		         nng_strerror(rv));
		return (-1);
	}
	*out = cfg;
	return (0);
}

int
tls_server_config(nng_tls_config **out, nng_tls_config **probe,
                  const tls_files *f, char *err, size_t errlen)
{
	nng_tls_config *cfg  = NULL;
	char           *cert = NULL, *key = NULL;
	int             rv;

	if (f->cert == NULL || f->key == NULL) {
		snprintf(err, errlen,
		         "a tls+tcp:// listener needs %s (set tls_cert and "
		         "tls_key)",
		         f->cert == NULL ? "a certificate (tls_cert)"
		                         : "a private key (tls_key)");
		return (-1);
	}
	if ((cert = slurp("tls_cert", f->cert, err, errlen)) == NULL ||
	    (key = slurp("tls_key", f->key, err, errlen)) == NULL) {
		goto fail;
	}
	if (check_pair(f, cert, key, err, errlen) != 0) {
		goto fail;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, f->key_pass)) !=
	    0) {
		snprintf(err, errlen,
		         "tls_cert %s with tls_key %s: %s (a certificate and "
		         "the private key that goes with it, PEM; "
		         "tls_key_password if the key is encrypted)",
		         f->cert, f->key, nng_strerror(rv));
		goto fail;
	}
	if (f->client_ca != NULL) {
		/* Checked first so that the message can name the file. */
		char *ca = slurp("tls_client_ca", f->client_ca, err, errlen);
		if (ca == NULL) {
			goto fail;
		}
		rv = nng_tls_config_ca_chain(cfg, ca, NULL);
		/* No check the listener could not pass. */
		if (rv == 0 && !ca_accepts(cert, ca)) {
			probe = NULL;
		}
		free(ca);
		if (rv != 0) {
			snprintf(err, errlen,
			         "tls_client_ca %s: %s (PEM CA "
			         "certificates)",
			         f->client_ca, nng_strerror(rv));
			goto fail;
		}
		rv = nng_tls_config_auth_mode(cfg,
		                              NNG_TLS_AUTH_MODE_REQUIRED);
	} else {
		rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
	}
	if (rv != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		goto fail;
	}
	if (probe != NULL &&
	    probe_config(probe, f, cert, key, err, errlen) != 0) {
		goto fail;
	}
	free(cert);
	/* Not left lying in freed memory. */
	explicit_bzero(key, strlen(key));
	free(key);
	*out = cfg;
	return (0);
fail:
	if (cfg != NULL) {
		nng_tls_config_free(cfg);
	}
	free(cert);
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	return (-1);
}
