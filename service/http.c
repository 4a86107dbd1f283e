#include "http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "log.h"
#include "metrics.h"

/* Prometheus and probes need a handful of connections, each quick. */
#define HTTP_MAX_CONNECTIONS 32
#define HTTP_PER_IP_LIMIT    16
#define HTTP_TIMEOUT_S       10
#define HTTP_MEMORY_LIMIT    (32 * 1024)

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct http_server {
	struct MHD_Daemon *d;
};

/* Splits "HOST:PORT" or "[HOST]:PORT" and resolves it numerically or by
 * name (localhost), into res. */
static int
resolve(const char *addr, struct addrinfo **res, char *err, size_t errlen)
{
	char            host[256];
	const char     *colon, *port;
	struct addrinfo hints = {0};
	size_t          n;
	int             rv;

	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (end == NULL || end[1] != ':') {
			snprintf(err, errlen, "give HOST:PORT or [IPV6]:PORT");
			return (-1);
		}
		n    = (size_t)(end - addr - 1);
		port = end + 2;
		addr++;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL) {
			snprintf(err, errlen, "give HOST:PORT, or off");
			return (-1);
		}
		n    = (size_t)(colon - addr);
		port = colon + 1;
	}
	if (n == 0 || n >= sizeof(host) || port[0] == '\0' ||
	    strspn(port, "0123456789") != strlen(port) || atol(port) > 65535) {
		snprintf(err, errlen, "give HOST:PORT, or off");
		return (-1);
	}
	memcpy(host, addr, n);
	host[n]           = '\0';
	hints.ai_family   = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags    = AI_NUMERICSERV | AI_PASSIVE;
	if ((rv = getaddrinfo(host, port, &hints, res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rv));
		return (-1);
	}
	return (0);
}

int
http_check_address(const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res;

	if (resolve(addr, &res, err, errlen) != 0) {
		return (-1);
	}
	freeaddrinfo(res);
	return (0);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned status, const char *type, void *body,
      size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r;
	enum MHD_Result      rv;

	r = MHD_create_response_from_buffer(len, body, mode);
	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE) {
			free(body);
		}
		return (MHD_NO);
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	}
	rv = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return (rv);
}

static enum MHD_Result
text(struct MHD_Connection *c, unsigned status, const char *s)
{
	return (reply(c, status, "text/plain; charset=utf-8", (void *)s,
	              strlen(s), MHD_RESPMEM_PERSISTENT));
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url,
       const char *method, const char *version, const char *upload,
       size_t *upload_size, void **con_cls)
{
	const char *cl, *te;

	(void)cls;
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)con_cls;
	/* Answered on the first call, before any body is read: nothing here
	 * takes one, so a request with a body is refused unread. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		return (text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		             "method not allowed\n"));
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
	if ((cl != NULL && strcmp(cl, "0") != 0) || te != NULL) {
		return (text(c, MHD_HTTP_CONTENT_TOO_LARGE,
		             "no request body is accepted\n"));
	}
	if (strcmp(url, "/metrics") == 0) {
		size_t len;
		char  *page = metrics_render(&len);
		if (page == NULL) {
			return (text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
			             "out of memory\n"));
		}
		return (reply(c, MHD_HTTP_OK, PROM_CONTENT_TYPE, page, len,
		              MHD_RESPMEM_MUST_FREE));
	}
	if (strcmp(url, "/healthz") == 0) {
		return (text(c, MHD_HTTP_OK, "ok\n"));
	}
	if (strcmp(url, "/readyz") == 0) {
		return (metrics_ready() ? text(c, MHD_HTTP_OK, "ready\n")
		                        : text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                               "not ready\n"));
	}
	return (text(c, MHD_HTTP_NOT_FOUND, "not found\n"));
}

/* libmicrohttpd's own diagnostics, as logfmt lines. */
static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	log_warn("http", "detail=\"%.400s\"", line);
}

int
http_start(http_server **out, const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res;
	http_server     *h;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	                     MHD_USE_ERROR_LOG;
	uint16_t port;

	if (resolve(addr, &res, err, errlen) != 0) {
		return (-1);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		freeaddrinfo(res);
		snprintf(err, errlen, "out of memory");
		return (-1);
	}
	if (res->ai_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((struct sockaddr_in6 *)res->ai_addr)->sin6_port);
	} else {
		port = ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port);
	}
	h->d = MHD_start_daemon(
	        flags, port, NULL, NULL, handle, NULL,
	        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	        MHD_OPTION_SOCK_ADDR, res->ai_addr,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
	        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	        (unsigned)HTTP_PER_IP_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
	        (unsigned)HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	        (size_t)HTTP_MEMORY_LIMIT, MHD_OPTION_END);
	freeaddrinfo(res);
	if (h->d == NULL) {
		snprintf(err, errlen, "HTTP listener on %s could not start",
		         addr);
		free(h);
		return (-1);
	}
	log_info("http listening", "addr=%s", addr);
	*out = h;
	return (0);
}

void
http_stop(http_server *h)
{
	if (h == NULL) {
		return;
	}
	MHD_stop_daemon(h->d);
	free(h);
}
