#ifndef OFFSTAT_CONFIG_H
#define OFFSTAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * offstatd's settings from three layers: an INI file (--config FILE or
 * $OFFSTAT_CONFIG), environment variables OFFSTAT_*, and flags. A flag
 * beats the environment, which beats the file, whatever the order they are
 * read in. Every value is checked when it is read; an error names the key
 * and where it came from (the flag, the variable, or file:line).
 */
typedef enum {
	CFG_LISTEN,
	CFG_DB,
	CFG_DATA_DIR,
	CFG_TOKENS,
	CFG_HTTP,
	CFG_LOG_LEVEL,
	CFG_WORKERS,
	CFG_MAX_REQUEST,
	CFG_READ_AUTH,
	CFG_INGEST_EXPIRY,
	CFG_TLS_CERT,
	CFG_TLS_KEY,
	CFG_TLS_KEY_PASSWORD,
	CFG_TLS_CLIENT_CA,
	CFG_REPLY_CACHE,
	CFG_LISTENER_CHECK,
	CFG_NKEYS,
} cfg_key;

typedef enum {
	CFG_FROM_DEFAULT = 0,
	CFG_FROM_FILE    = 1,
	CFG_FROM_ENV     = 2,
	CFG_FROM_FLAG    = 3,
} cfg_source;

/* The default address of the HTTP listener (metrics and health). */
#define CFG_DEFAULT_HTTP "127.0.0.1:9355"
/* Listeners at most, in all. */
#define CFG_MAX_LISTEN 16

typedef struct {
	char      *value[CFG_NKEYS]; /* NULL: not set */
	cfg_source source[CFG_NKEYS];
	char       origin[CFG_NKEYS][320]; /* flag, variable or file:line */
} cfg;

/* Frees the values; the struct itself is the caller's. */
void cfg_free(cfg *c);
/*
 * Sets key from a flag (flag is its spelling, for messages). --listen
 * appends: the values of repeated flags are joined by commas. Returns 0,
 * or -1 with a message in err.
 */
int cfg_flag(cfg *c, cfg_key key, const char *flag, const char *value,
             char *err, size_t errlen);
/* Reads OFFSTAT_* variables of the known keys (empty ones are unset).
 * Returns 0, or -1 with a message naming the variable in err. */
int cfg_env(cfg *c, char *err, size_t errlen);
/*
 * Reads an INI file: "key = value" lines at the top or in an [offstatd]
 * section, '#' or ';' comments. Unknown keys and sections, bad values and
 * an unreadable file are errors. Returns 0, or -1 with a message naming
 * file:line and the key in err.
 */
int cfg_file(cfg *c, const char *path, char *err, size_t errlen);
/* A key's long flag ("--listen"), for messages. */
const char *cfg_flag_name(cfg_key key);
/* A key's value, or NULL when unset (the caller applies its default). */
const char *cfg_get(const cfg *c, cfg_key key);
/* Parses a number key's value (already checked); def when unset. */
size_t cfg_size(const cfg *c, cfg_key key, size_t def);
/* Writes every key, its value (secrets masked) and where it came from. */
void cfg_print(const cfg *c, FILE *out);

#endif
