#ifndef OFFSTAT_HTTP_H
#define OFFSTAT_HTTP_H

#include <stddef.h>

/*
 * The HTTP listener for operators and Prometheus, served by libmicrohttpd
 * on its own thread (nng's HTTP server is not exposed: DESIGN.md section
 * 5): GET or HEAD /metrics (metrics.h), /healthz (alive) and /readyz (a
 * snapshot loaded and the NNG listeners up). Other paths are 404, other
 * methods 405, request bodies 413. Connections are bounded in number and
 * time.
 */
typedef struct http_server http_server;

/*
 * Checks an address "HOST:PORT" ("[::1]:9355" for IPv6), as --http takes
 * it. Returns 0, or -1 with a reason in err.
 */
int http_check_address(const char *addr, char *err, size_t errlen);
/* Listens on addr and serves on a thread of its own. Returns 0, or -1 with
 * a message in err. */
int http_start(http_server **out, const char *addr, char *err, size_t errlen);
/* Stops listening and waits for the thread. Accepts NULL. */
void http_stop(http_server *h);

#endif
