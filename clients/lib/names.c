/* The tables that turn values into words: errors, flags, kinds, orders. */
#include <stddef.h>
#include <strings.h>

#include "offstat/offstat.h"

#define STR_(x) #x
#define STR(x)  STR_(x)

const char *
offstat_strerror(int err)
{
	switch (err) {
#define X(name, value, message)                                               \
	case value:                                                           \
		return (message);
		OFFSTAT_ERRORS(X)
#undef X
	}
	return ("unknown error");
}

const char *
offstat_err_name(int err)
{
	switch (err) {
#define X(name, value, message)                                               \
	case value:                                                           \
		return (#name);
		OFFSTAT_ERRORS(X)
#undef X
	}
	return (NULL);
}

bool
offstat_err_is_server(int err)
{
	return (err > OFFSTAT_SERVER_ERR_BASE &&
	        err <= OFFSTAT_SERVER_ERR_BASE + 16);
}

const char *
offstat_version(void)
{
	return (STR(OFFSTAT_VERSION_MAJOR) "." STR(
	        OFFSTAT_VERSION_MINOR) "." STR(OFFSTAT_VERSION_PATCH));
}

/* In the .proto's Flag order: bit n-1 is Flag n. */
static const char *const flag_names[] = {
        "PROVISIONAL",  "REVISED",    "SERIES_BREAK", "ESTIMATED",
        "SMALL_NUMBER", "INCOMPLETE", "CONFLICT",
};

const char *
offstat_flag_name(unsigned flag)
{
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]);
	     i++) {
		if (flag == 1u << i) {
			return (flag_names[i]);
		}
	}
	return (NULL);
}

static const char *const area_kinds[] = {
        "ANY", "FORCE", "REGION", "COUNTRY", "GROUP", "NATION", "BODY",
};

const char *
offstat_area_kind_name(int kind)
{
	if (kind < 0 ||
	    (size_t)kind >= sizeof(area_kinds) / sizeof(area_kinds[0])) {
		return (NULL);
	}
	return (area_kinds[kind]);
}

int
offstat_area_kind_parse(offstat_area_kind *out, const char *name)
{
	if (out == NULL || name == NULL) {
		return (OFFSTAT_EINVAL);
	}
	for (size_t i = 0; i < sizeof(area_kinds) / sizeof(area_kinds[0]);
	     i++) {
		if (strcasecmp(name, area_kinds[i]) == 0) {
			*out = (offstat_area_kind)i;
			return (OFFSTAT_OK);
		}
	}
	return (OFFSTAT_EINVAL);
}

static const char *const source_kinds[] = {
        "UNSPECIFIED", "OPEN_DATA", "FOI", "PRESS", "REFERENCE",
};

const char *
offstat_source_kind_name(int kind)
{
	if (kind < 0 ||
	    (size_t)kind >= sizeof(source_kinds) / sizeof(source_kinds[0])) {
		return (NULL);
	}
	return (source_kinds[kind]);
}

/* In the .proto's RankBy order; 0 (unspecified) has no name. */
static const char *const rank_bys[] = {
        NULL, "COUNT", "RATE", "RATE_UNDER18", "CHANGE",
};

const char *
offstat_rank_by_name(int by)
{
	if (by < 0 || (size_t)by >= sizeof(rank_bys) / sizeof(rank_bys[0])) {
		return (NULL);
	}
	return (rank_bys[by]);
}

int
offstat_rank_by_parse(offstat_rank_by *out, const char *name)
{
	if (out == NULL || name == NULL) {
		return (OFFSTAT_EINVAL);
	}
	/* The spellings a command line uses for the under-18 rate. */
	if (strcasecmp(name, "rate-u18") == 0 ||
	    strcasecmp(name, "rate-under18") == 0 ||
	    strcasecmp(name, "rate_u18") == 0) {
		*out = OFFSTAT_RANK_RATE_UNDER18;
		return (OFFSTAT_OK);
	}
	for (size_t i = 1; i < sizeof(rank_bys) / sizeof(rank_bys[0]); i++) {
		if (strcasecmp(name, rank_bys[i]) == 0) {
			*out = (offstat_rank_by)i;
			return (OFFSTAT_OK);
		}
	}
	return (OFFSTAT_EINVAL);
}

/* In the .proto's ReleaseState order; 0 (unspecified) has no name. */
static const char *const release_states[] = {
        NULL, "OPEN", "COMMITTED", "ABORTED", "EXPIRED",
};

const char *
offstat_release_state_name(int state)
{
	if (state < 0 || (size_t)state >= sizeof(release_states) /
	                                          sizeof(release_states[0])) {
		return (NULL);
	}
	return (release_states[state]);
}
