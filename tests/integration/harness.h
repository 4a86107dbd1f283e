#ifndef OFFSTAT_TEST_HARNESS_H
#define OFFSTAT_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Starts a real offstatd for a test, on a fresh address, and stops it.
 * The binary's path comes from the OFFSTATD macro set by CMake.
 */
typedef struct {
	pid_t pid;
	char  url[256];
	char  dir[128]; /* a private temporary folder */
	char  db[256];  /* the database, unless the test names one */
} harness_server;

/*
 * Starts offstatd listening on a fresh ipc:// or tcp:// URL (tcp when
 * tcp != 0) with extra arguments (NULL-terminated, may be NULL), and waits
 * until it answers. Returns 0, or -1 (with a message on stderr).
 */
int harness_start(harness_server *s, int tcp, const char *const *extra);
/* Sends SIGTERM and waits; returns the exit status (0 for a clean exit),
 * or -1 when it did not stop in time or died of a signal. */
int harness_stop(harness_server *s);
/* One raw exchange on a fresh REQ socket: sends len bytes, receives the
 * reply into a malloc'd buffer. Returns 0 or an nng error. */
int harness_exchange(const char *url, const void *req, size_t len,
                     void **reply, size_t *replylen, int timeout_ms);

#endif
