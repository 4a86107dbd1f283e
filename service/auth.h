#ifndef OFFSTAT_AUTH_H
#define OFFSTAT_AUTH_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

/*
 * Bearer tokens with roles, kept hashed (SHA-256) in a file the operator
 * manages with `offstatd token add|list|revoke`. A token is shown once, when
 * it is made; the file holds only its id, role, hash, creation time, when it
 * expires (if it does) and a label. Nothing here logs or returns a token or
 * a hash.
 *
 * Token format: "ost_" + 8 hex digits of id + "_" + 64 hex digits of
 * secret. File format: one token per line, "id role sha256 created expires
 * label", expires being "never" or a UTC time like created
 * ("2027-03-31T00:00:00Z"); '#' starts a comment. Lines of files written
 * before tokens could expire have no expires, and never expire.
 */
typedef enum {
	AUTH_NONE   = 0,
	AUTH_READER = 1,
	AUTH_WRITER = 2,
	AUTH_ADMIN  = 3,
} auth_role;

/* auth_check's answers besides a role. */
#define AUTH_MISSING (-1) /* no authorization metadata */
#define AUTH_INVALID (-2) /* malformed, unknown or revoked token */
#define AUTH_EXPIRED (-3) /* a known token past its expiry time */

typedef struct auth auth;

/* Loads the tokens file at path (a missing file holds no tokens). Returns
 * 0, or -1 with err set when the file is unreadable or malformed. */
int auth_open(auth **out, const char *path, char *err, size_t errlen);
/* Accepts NULL. */
void auth_close(auth *a);
/*
 * Checks an authorization metadata value ("Bearer <token>", NULL when
 * absent). Returns the token's role, AUTH_MISSING, AUTH_INVALID or
 * AUTH_EXPIRED (the token is right but its time is up). The hash
 * comparison takes the same time whatever the token. Re-reads the file when
 * it changed (at most once a second), so tokens added or revoked while the
 * service runs take effect. Safe from several threads.
 */
int auth_check(auth *a, const char *authorization);
/* Failed checks (AUTH_INVALID and AUTH_EXPIRED) so far. */
unsigned long long auth_failures(const auth *a);

/* Lines auth_log_refused() writes a second at most. */
#define AUTH_LOG_PER_SEC 5

/*
 * Logs a warning that a call's token was refused, with its method and
 * request id, never the token or a hash. A client hammering with bad tokens
 * would otherwise write one line per call, so at most AUTH_LOG_PER_SEC lines
 * are written a second, for the whole process; the next refusal after a
 * second with more writes one line saying how many were left out (and
 * auth_close() does, for the last second). auth_failures() counts every
 * refusal whether logged or not. a may be NULL; safe from several threads.
 */
void auth_log_refused(auth *a, const char *method, const char *request_id);

/* Parses "reader", "writer" or "admin"; AUTH_NONE when unknown. */
auth_role   auth_role_parse(const char *s);
const char *auth_role_name(auth_role r);

/*
 * Makes a token with role and label that expires at expires (0: never; a
 * time already past is refused), adds its hash to the file at path
 * (created with mode 0600 when missing; replaced atomically) and writes the
 * token (shown once) into token (at least AUTH_TOKEN_LEN + 1 bytes).
 */
#define AUTH_TOKEN_LEN 77
int auth_add(const char *path, auth_role role, const char *label,
             time_t expires, char *token, char *err, size_t errlen);
/* Prints id, role, creation and expiry times and label of every token to
 * out, marking those that have expired. */
int auth_list(const char *path, FILE *out, char *err, size_t errlen);
/* A time as the file writes it, "YYYY-MM-DDTHH:MM:SSZ" (UTC), and back:
 * auth_time_parse() takes exactly that form; 0, or -1. */
void auth_time_format(time_t t, char *out, size_t len);
int  auth_time_parse(const char *s, time_t *out);
/* Removes the token with this id; -1 with err when there is none. */
int auth_revoke(const char *path, const char *id, char *err, size_t errlen);

#endif
