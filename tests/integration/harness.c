#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "offstat/v1/offstat.pb-c.h"

/* A port the kernel says is free now. */
static int
free_port(void)
{
	struct sockaddr_in a    = {.sin_family = AF_INET};
	socklen_t          n    = sizeof(a);
	int                fd   = socket(AF_INET, SOCK_STREAM, 0);
	int                port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &n) == 0) {
		port = ntohs(a.sin_port);
	}
	if (fd >= 0) {
		close(fd);
	}
	return (port);
}

int
harness_exchange(const char *url, const void *req, size_t len, void **reply,
                 size_t *replylen, int timeout_ms)
{
	nng_socket sock;
	nng_msg   *msg;
	int        rv;

	if ((rv = nng_req0_open(&sock)) != 0) {
		return (rv);
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 64u << 20);
	if ((rv = nng_dial(sock, url, NULL, 0)) != 0 ||
	    (rv = nng_msg_alloc(&msg, 0)) != 0) {
		nng_close(sock);
		return (rv);
	}
	if ((rv = nng_msg_append(msg, req, len)) != 0 ||
	    (rv = nng_sendmsg(sock, msg, 0)) != 0) {
		nng_msg_free(msg);
		nng_close(sock);
		return (rv);
	}
	if ((rv = nng_recvmsg(sock, &msg, 0)) == 0) {
		*replylen = nng_msg_len(msg);
		*reply    = malloc(*replylen + 1);
		memcpy(*reply, nng_msg_body(msg), *replylen);
		nng_msg_free(msg);
	}
	nng_close(sock);
	return (rv);
}

/* True once the service answers ServerInfo with OK. */
static int
answers(const char *url)
{
	Offstat__V1__RpcRequest env = OFFSTAT__V1__RPC_REQUEST__INIT;
	uint8_t                 buf[256];
	void                   *reply;
	size_t                  n, replylen;
	int                     ok = 0;

	env.method = "offstat.v1.OffenceStats/ServerInfo";
	n          = offstat__v1__rpc_request__pack(&env, buf);
	if (harness_exchange(url, buf, n, &reply, &replylen, 500) == 0) {
		Offstat__V1__RpcResponse *r =
		        offstat__v1__rpc_response__unpack(NULL, replylen,
		                                          reply);
		ok = r != NULL && r->status != NULL &&
		     r->status->code == OFFSTAT__V1__CODE__OK;
		offstat__v1__rpc_response__free_unpacked(r, NULL);
		free(reply);
	}
	return (ok);
}

int
harness_start(harness_server *s, int tcp, const char *const *extra)
{
	static int  seq;
	const char *argv[32];
	int         argc = 0;

	snprintf(s->dir, sizeof(s->dir), "/tmp/offstat-test-XXXXXX");
	if (mkdtemp(s->dir) == NULL) {
		perror("mkdtemp");
		return (-1);
	}
	if (tcp) {
		snprintf(s->url, sizeof(s->url), "tcp://127.0.0.1:%d",
		         free_port());
	} else {
		snprintf(s->url, sizeof(s->url), "ipc://%s/s%d.ipc", s->dir,
		         seq++);
	}
	snprintf(s->db, sizeof(s->db), "%s/offstat.db", s->dir);
	argv[argc++] = OFFSTATD;
	argv[argc++] = "--listen";
	argv[argc++] = s->url;
	argv[argc++] = "--log-level";
	argv[argc++] = "warn";
	int has_db   = 0;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && argc < 30;
	     i++) {
		has_db |= strcmp(extra[i], "--db") == 0;
		argv[argc++] = extra[i];
	}
	if (!has_db && argc < 30) {
		argv[argc++] = "--db";
		argv[argc++] = s->db;
	}
	argv[argc] = NULL;
	if ((s->pid = fork()) < 0) {
		perror("fork");
		return (-1);
	}
	if (s->pid == 0) {
		execv(argv[0], (char *const *)argv);
		perror("execv");
		_exit(127);
	}
	/* Loading the bundled data takes milliseconds; sanitizer builds and
	 * valgrind are slower, so wait up to 30 s. */
	for (int i = 0; i < 600; i++) {
		int st;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			fprintf(stderr, "offstatd exited early (status %d)\n",
			        st);
			s->pid = -1;
			return (-1);
		}
		if (answers(s->url)) {
			return (0);
		}
		nng_msleep(50);
	}
	fprintf(stderr, "offstatd did not answer on %s\n", s->url);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	return (-1);
}

int
harness_stop(harness_server *s)
{
	int  st;
	char cmd[256];

	if (s->pid <= 0) {
		return (-1);
	}
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 300; i++) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = -1;
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
			(void)system(cmd);
			if (WIFEXITED(st)) {
				if (WEXITSTATUS(st) != 0) {
					fprintf(stderr, "offstatd exited %d\n",
					        WEXITSTATUS(st));
				}
				return (WEXITSTATUS(st));
			}
			fprintf(stderr, "offstatd died of signal %d\n",
			        WIFSIGNALED(st) ? WTERMSIG(st) : -1);
			return (-1);
		}
		nng_msleep(50);
	}
	fprintf(stderr, "offstatd did not stop within 15 s of SIGTERM\n");
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &st, 0);
	s->pid = -1;
	return (-1);
}
