/*
 * Ingest: the writes (open, batch, commit, abort), each with a fresh
 * idempotency key and sent again with the same key when the exchange
 * fails; and loading files of open data as one release, in batches.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "convert.h"
#include "csv.h"
#include "result.h"

/* Random bytes in a key: 128 bits, written as 32 hex digits. */
#define KEY_BYTES 16
#define KEY_SIZE  (2 * KEY_BYTES + 1)

/* The first pause before a write is sent again; it doubles each time. */
#define FIRST_PAUSE_MS 250

/* Bad rows listed one by one; more are counted. As offstatd lists. */
#define MAX_BAD_LISTED 1000

/* Bytes of a row's packing beyond the row itself: its tag and length. */
#define ROW_OVERHEAD 4

/* The columns of the open data format, as its header names them. */
static const char *const columns[] = {
        "Financial Year",      "Financial Quarter",  "Force Name",
        "Offence Description", "Offence Group",      "Offence Subgroup",
        "Offence Code",        "Number of Offences",
};
#define NCOLS     (sizeof(columns) / sizeof(columns[0]))
#define C_QUARTER 1
#define C_COUNT   7

/* protobuf-c wants char * for strings it only reads; NULL means "". */
static char *
field(const char *s)
{
	return ((char *)(s != NULL ? s : ""));
}

/* ---- Idempotency keys -------------------------------------------------- */

/* Mixes a 64-bit value (splitmix64's finaliser). */
static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (x ^ (x >> 31));
}

/* Reads n random bytes from the kernel; false when none can be had. */
static bool
kernel_random(unsigned char *b, size_t n)
{
	size_t got = 0;
	int    fd;

	while (got < n) {
		ssize_t r = getrandom(b + got, n - got, 0);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	if (got == n) {
		return (true);
	}
	/* Kernels before 3.17 have no getrandom. */
	if ((fd = open("/dev/urandom", O_RDONLY)) < 0) {
		return (false);
	}
	for (got = 0; got < n;) {
		ssize_t r = read(fd, b + got, n - got);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	return (got == n);
}

/*
 * Writes a fresh key: random, so that two writers, or two runs of one,
 * never share a key. Without a kernel source the time, process and a
 * counter still make it unique to this host.
 */
static void
new_key(char key[KEY_SIZE])
{
	static const char       hex[] = "0123456789abcdef";
	static _Atomic uint64_t counter;
	unsigned char           b[KEY_BYTES];

	if (!kernel_random(b, sizeof(b))) {
		struct timespec ts;
		uint64_t        x;
		clock_gettime(CLOCK_REALTIME, &ts);
		x = mix((uint64_t)ts.tv_sec * 1000000000u +
		        (uint64_t)ts.tv_nsec) ^
		    mix((uint64_t)getpid() << 32 ^ counter++);
		for (size_t i = 0; i < sizeof(b); i++) {
			if (i % 8 == 0) {
				x = mix(x + i);
			}
			b[i] = (unsigned char)(x >> (8 * (i % 8)));
		}
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		key[2 * i]     = hex[b[i] >> 4];
		key[2 * i + 1] = hex[b[i] & 15];
	}
	key[KEY_SIZE - 1] = '\0';
}

/* ---- Writes ------------------------------------------------------------ */

static int
conv_reply(const ProtobufCMessage *m, void *arg)
{
	const Offstat__V1__IngestResponse *r   = (const void *)m;
	offstat_ingest_reply             **out = arg;
	offstat_ingest_reply              *res;
	offstat__conv                      cv;

	if ((res = offstat__result_new(sizeof(*res))) == NULL) {
		return (OFFSTAT_ENOMEM);
	}
	cv                  = (offstat__conv){res, false};
	res->release        = r->release;
	res->state          = (offstat_release_state)r->state;
	res->rows_accepted  = r->rows_accepted;
	res->rows           = r->rows;
	res->changed        = r->changed;
	res->replayed       = r->replayed != 0;
	res->served_release = offstat__conv_str(&cv, r->served_release);
	res->key            = offstat__conv_str(&cv, "");
	if (cv.failed) {
		offstat__result_free(res);
		return (OFFSTAT_ENOMEM);
	}
	*out = res;
	return (OFFSTAT_OK);
}

/* Failures after which the same write may be sent again: the request or
 * its reply may have been lost, or the service asked for a retry. */
static bool
retryable(int rv)
{
	switch (rv) {
	case OFFSTAT_ETIMEDOUT:
	case OFFSTAT_ECONNLOST:
	case OFFSTAT_ETRANSPORT:
	case OFFSTAT_EDEADLINE:
	case OFFSTAT_EABORTED:
	case OFFSTAT_EUNAVAILABLE:
		return (true);
	default:
		return (false);
	}
}

static void
pause_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
	                      (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/*
 * Sends one write, and sends exactly the same request (the same key)
 * again after a failure that may have lost it, up to attempts times in
 * all. *out gets the reply; *tries, unless NULL, how often it was sent.
 */
static int
write_call(offstat_client *c, Offstat__V1__IngestRequest *req,
           unsigned attempts, offstat_ingest_reply **out, unsigned *tries,
           offstat_status *st)
{
	offstat_ingest_reply *reply = NULL;
	offstat__conv         cv;
	unsigned              ms = FIRST_PAUSE_MS;
	unsigned              n;
	int                   rv;

	for (n = 1;; n++) {
		/* Each try's status replaces the last one's. */
		offstat__status_reset(st);
		rv = offstat__call(c, "Ingest", &req->base,
		                   &offstat__v1__ingest_response__descriptor,
		                   conv_reply, &reply, st);
		if (rv == OFFSTAT_OK || !retryable(rv) || n >= attempts) {
			break;
		}
		pause_ms(ms);
		ms *= 2;
	}
	if (tries != NULL) {
		*tries = n;
	}
	if (rv != OFFSTAT_OK) {
		if (n > 1) {
			offstat__status_append(st,
			                       " (sent %u times with the same "
			                       "idempotency key)",
			                       n);
		}
		return (rv);
	}
	cv              = (offstat__conv){reply, false};
	reply->key      = offstat__conv_str(&cv, req->idempotency_key);
	reply->attempts = n;
	if (cv.failed) {
		offstat__result_free(reply);
		return (offstat__status_local(st, OFFSTAT_ENOMEM,
		                              "out of memory"));
	}
	*out = reply;
	return (OFFSTAT_OK);
}

/* Hands reply to the caller, or frees it when the caller wants none. */
static void
give(offstat_ingest_reply **out, offstat_ingest_reply *reply)
{
	if (out != NULL) {
		*out = reply;
	} else {
		offstat__result_free(reply);
	}
}

int
offstat_ingest_open(uint64_t *release, offstat_client *c, const char *label,
                    const char *source, offstat_status *st)
{
	Offstat__V1__IngestRequest req = OFFSTAT__V1__INGEST_REQUEST__INIT;
	offstat_ingest_reply      *reply;
	char                       key[KEY_SIZE];
	int                        rv;

	offstat__status_reset(st);
	if (release == NULL || c == NULL || label == NULL ||
	    label[0] == '\0') {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "offstat_ingest_open needs a "
		                              "result pointer, a client and a "
		                              "label"));
	}
	new_key(key);
	req.action_case     = OFFSTAT__V1__INGEST_REQUEST__ACTION_OPEN_LABEL;
	req.open_label      = field(label);
	req.source          = field(source);
	req.idempotency_key = key;
	if ((rv = write_call(c, &req, OFFSTAT_INGEST_ATTEMPTS, &reply, NULL,
	                     st)) != OFFSTAT_OK) {
		return (rv);
	}
	*release = reply->release;
	offstat__result_free(reply);
	return (OFFSTAT_OK);
}

/* A batch of rows already in protobuf-c's form. */
static int
batch_call(offstat_client *c, uint64_t release, Offstat__V1__IngestRow **rows,
           size_t n, const char *source, const char *key,
           offstat_ingest_reply **out, unsigned *tries, offstat_status *st)
{
	Offstat__V1__IngestRequest req = OFFSTAT__V1__INGEST_REQUEST__INIT;

	req.release         = release;
	req.rows            = rows;
	req.n_rows          = n;
	req.source          = field(source);
	req.idempotency_key = (char *)key;
	return (write_call(c, &req, OFFSTAT_INGEST_ATTEMPTS, out, tries, st));
}

static bool
key_ok(const char *key)
{
	size_t n = strlen(key);

	if (n == 0 || n > OFFSTAT_INGEST_MAX_KEY) {
		return (false);
	}
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			return (false);
		}
	}
	return (true);
}

int
offstat_ingest_batch_keyed(offstat_ingest_reply **out, offstat_client *c,
                           uint64_t release, const offstat_ingest_row *rows,
                           size_t n_rows, const char *source, const char *key,
                           offstat_status *st)
{
	Offstat__V1__IngestRow  *msgs;
	Offstat__V1__IngestRow **ptrs;
	offstat_ingest_reply    *reply;
	char                     fresh[KEY_SIZE];
	int                      rv;

	offstat__status_reset(st);
	if (c == NULL || rows == NULL || n_rows == 0 || release == 0) {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "offstat_ingest_batch needs a "
		                              "client, a release and rows"));
	}
	if (n_rows > OFFSTAT_INGEST_MAX_ROWS) {
		return (offstat__status_local(
		        st, OFFSTAT_EINVAL,
		        "a batch holds at most %d rows; this one has %zu",
		        OFFSTAT_INGEST_MAX_ROWS, n_rows));
	}
	if (key != NULL && !key_ok(key)) {
		return (offstat__status_local(st, OFFSTAT_EINVAL,
		                              "an idempotency key is 1 to %d "
		                              "bytes of printable text",
		                              OFFSTAT_INGEST_MAX_KEY));
	}
	for (size_t i = 0; i < n_rows; i++) {
		const offstat_ingest_row *r = &rows[i];
		if (r->financial_year == NULL || r->force_name == NULL ||
		    r->offence_description == NULL ||
		    r->offence_group == NULL || r->offence_subgroup == NULL ||
		    r->offence_code == NULL) {
			return (offstat__status_local(
			        st, OFFSTAT_EINVAL,
			        "row %zu has a NULL string", i + 1));
		}
	}
	msgs = calloc(n_rows, sizeof(*msgs));
	ptrs = calloc(n_rows, sizeof(*ptrs));
	if (msgs == NULL || ptrs == NULL) {
		free(msgs);
		free(ptrs);
		return (offstat__status_local(st, OFFSTAT_ENOMEM,
		                              "out of memory"));
	}
	for (size_t i = 0; i < n_rows; i++) {
		const offstat_ingest_row *r = &rows[i];
		offstat__v1__ingest_row__init(&msgs[i]);
		msgs[i].financial_year      = (char *)r->financial_year;
		msgs[i].financial_quarter   = r->financial_quarter;
		msgs[i].force_name          = (char *)r->force_name;
		msgs[i].offence_description = (char *)r->offence_description;
		msgs[i].offence_group       = (char *)r->offence_group;
		msgs[i].offence_subgroup    = (char *)r->offence_subgroup;
		msgs[i].offence_code        = (char *)r->offence_code;
		msgs[i].count               = r->count;
		ptrs[i]                     = &msgs[i];
	}
	if (key == NULL) {
		new_key(fresh);
		key = fresh;
	}
	rv = batch_call(c, release, ptrs, n_rows, source, key, &reply, NULL,
	                st);
	free(ptrs);
	free(msgs);
	if (rv == OFFSTAT_OK) {
		give(out, reply);
	}
	return (rv);
}

int
offstat_ingest_batch(offstat_ingest_reply **out, offstat_client *c,
                     uint64_t release, const offstat_ingest_row *rows,
                     size_t n_rows, const char *source, offstat_status *st)
{
	return (offstat_ingest_batch_keyed(out, c, release, rows, n_rows,
	                                   source, NULL, st));
}

/* Commits or aborts, trying attempts times at most. */
static int
finish_call(offstat_client *c, uint64_t release, bool commit,
            unsigned attempts, offstat_ingest_reply **out, unsigned *tries,
            offstat_status *st)
{
	Offstat__V1__IngestRequest req   = OFFSTAT__V1__INGEST_REQUEST__INIT;
	offstat_ingest_reply      *reply = NULL;
	char                       key[KEY_SIZE];
	int                        rv;

	offstat__status_reset(st);
	if (c == NULL || release == 0) {
		return (offstat__status_local(
		        st, OFFSTAT_EINVAL,
		        "offstat_ingest_%s needs a client "
		        "and a release",
		        commit ? "commit" : "abort"));
	}
	new_key(key);
	if (commit) {
		req.action_case =
		        OFFSTAT__V1__INGEST_REQUEST__ACTION_COMMIT_RELEASE;
		req.commit_release = release;
	} else {
		req.action_case =
		        OFFSTAT__V1__INGEST_REQUEST__ACTION_ABORT_RELEASE;
		req.abort_release = release;
	}
	req.idempotency_key = key;
	if ((rv = write_call(c, &req, attempts, &reply, tries, st)) ==
	    OFFSTAT_OK) {
		give(out, reply);
	}
	return (rv);
}

int
offstat_ingest_commit(offstat_ingest_reply **out, offstat_client *c,
                      uint64_t release, offstat_status *st)
{
	return (finish_call(c, release, true, OFFSTAT_INGEST_ATTEMPTS, out,
	                    NULL, st));
}

int
offstat_ingest_abort(offstat_ingest_reply **out, offstat_client *c,
                     uint64_t release, offstat_status *st)
{
	return (finish_call(c, release, false, OFFSTAT_INGEST_ATTEMPTS, out,
	                    NULL, st));
}

void
offstat_ingest_reply_free(offstat_ingest_reply *reply)
{
	offstat__result_free(reply);
}

/* ---- Rows of a file ---------------------------------------------------- */

/* Trims spaces and tabs from both ends, as offstatd does. */
static const char *
trim(const char *s, size_t *len)
{
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t')) {
		(*len)--;
	}
	while (*len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		(*len)--;
	}
	return (s);
}

/* A field for a message: at most 60 bytes, without control characters,
 * and not cut inside a UTF-8 sequence. */
static const char *
show(char *buf, size_t size, const char *s, size_t len)
{
	size_t max = size - 4 < 60 ? size - 4 : 60;
	size_t n   = len <= max ? len : max;

	if (n < len) {
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
			n--;
		}
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		buf[i]           = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return (buf);
}

/* A whole number in plain digits; false for anything else or overflow. */
static bool
digits(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0) {
		return (false);
	}
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || v > (max - d) / 10) {
			return (false);
		}
		v = v * 10 + d;
	}
	*out = v;
	return (true);
}

static bool
is_header(size_t nf, const char *const *f)
{
	if (nf != NCOLS) {
		return (false);
	}
	for (size_t i = 0; i < NCOLS; i++) {
		if (strcmp(f[i], columns[i]) != 0) {
			return (false);
		}
	}
	return (true);
}

/*
 * Reads one record as a row: 1 with *quarter and *count, 0 for a blank
 * record (skipped, as offstatd skips it), -1 when it cannot be sent (why
 * says so, in offstatd's words). Every other check is the service's.
 */
static int
parse_row(size_t nf, const char *const *f, const size_t *lens,
          unsigned *quarter, uint64_t *count, char *why, size_t whylen)
{
	char        buf[80];
	const char *s;
	size_t      len;
	uint64_t    v;
	bool        blank = true;

	for (size_t i = 0; i < nf && blank; i++) {
		len   = lens[i];
		blank = trim(f[i], &len) != NULL && len == 0;
	}
	if (blank) {
		return (0);
	}
	if (nf != NCOLS) {
		snprintf(why, whylen, "%zu fields, expected %zu", nf, NCOLS);
		return (-1);
	}
	if (is_header(nf, f)) {
		snprintf(why, whylen, "the header again");
		return (-1);
	}
	len = lens[C_QUARTER];
	s   = trim(f[C_QUARTER], &len);
	if (len == 0) {
		snprintf(why, whylen, "%s is empty", columns[C_QUARTER]);
		return (-1);
	}
	if (!digits(s, len, UINT32_MAX, &v)) {
		snprintf(why, whylen, "%s '%s' is not 1 to 4",
		         columns[C_QUARTER], show(buf, sizeof(buf), s, len));
		return (-1);
	}
	*quarter = (unsigned)v;
	len      = lens[C_COUNT];
	s        = trim(f[C_COUNT], &len);
	if (len == 0) {
		snprintf(why, whylen, "%s is empty", columns[C_COUNT]);
		return (-1);
	}
	if (!digits(s, len, UINT64_MAX, count)) {
		bool all = true;
		for (size_t i = 0; i < len; i++) {
			all = all && s[i] >= '0' && s[i] <= '9';
		}
		snprintf(why, whylen,
		         all ? "%s '%s' is more than 2^53"
		             : "%s '%s' is not a whole number of 0 or more in "
		               "plain digits",
		         columns[C_COUNT], show(buf, sizeof(buf), s, len));
		return (-1);
	}
	return (1);
}

/* ---- Loading files ----------------------------------------------------- */

/* A load in progress. */
struct load {
	offstat_client        *c;
	offstat_status        *st;
	offstat_ingest_result *res;
	offstat__conv          cv; /* Strings of res. */
	offstat_progress_fn    progress;
	void                  *arg;
	size_t                 rows_max;  /* Rows a batch may hold now. */
	size_t                 bytes_max; /* Bytes of rows, likewise. */

	/* The batch being filled, from the file at path. */
	const char              *path;
	void                    *arena; /* Its strings: a result region. */
	Offstat__V1__IngestRow  *rows;
	Offstat__V1__IngestRow **ptrs;
	uint64_t                *lines;   /* Each row's line in the file. */
	uint64_t                *numbers; /* Each row's data row number. */
	size_t                  *sizes;   /* Each row's packed bytes. */
	size_t                   n;
	size_t                   cap;
	size_t                   bytes;
};

/* Lists one bad row in the result and in the status's details. */
static void
bad_row(struct load *ld, const char *path, uint64_t line, uint64_t row,
        const char *reason)
{
	offstat_ingest_result *res = ld->res;
	offstat_bad_row       *b;

	res->bad_rows_total++;
	if (res->n_bad_rows == MAX_BAD_LISTED) {
		return;
	}
	if (res->bad_rows == NULL) {
		res->bad_rows = offstat__result_alloc(
		        res, MAX_BAD_LISTED * sizeof(*res->bad_rows));
		if (res->bad_rows == NULL) {
			ld->cv.failed = true;
			return;
		}
	}
	b         = &res->bad_rows[res->n_bad_rows++];
	b->file   = offstat__conv_str(&ld->cv, path);
	b->line   = line;
	b->row    = row;
	b->reason = offstat__conv_str(&ld->cv, reason);
	if (line > 0) {
		offstat__status_detail(ld->st, "%s line %" PRIu64 ": %s", path,
		                       line, reason);
	} else {
		offstat__status_detail(ld->st, "%s: %s", path, reason);
	}
}

/* Closes the list of bad rows in the details: "and N more". */
static void
bad_rows_done(struct load *ld)
{
	const offstat_ingest_result *res = ld->res;

	if (res->bad_rows_total > res->n_bad_rows) {
		offstat__status_detail(ld->st, "and %" PRIu64 " more bad rows",
		                       res->bad_rows_total - res->n_bad_rows);
	}
}

/* errno's text, safely from any thread. */
static const char *
errtext(int err, char *buf, size_t n)
{
	if (strerror_r(err, buf, n) != 0) {
		snprintf(buf, n, "error %d", err);
	}
	return (buf);
}

/* Opens path and reads its header; the status says why when it fails. */
static int
open_file(struct load *ld, const char *path, offstat__csv **out)
{
	const char *const *f;
	const size_t      *lens;
	size_t             nf;
	uint64_t           line;
	char               buf[80];
	char               ebuf[128];
	int                rc;

	if ((rc = offstat__csv_open(out, path)) != 0) {
		return (offstat__status_local(
		        ld->st, rc == ENOMEM ? OFFSTAT_ENOMEM : OFFSTAT_EFILE,
		        "cannot read %s: %s", path,
		        errtext(rc, ebuf, sizeof(ebuf))));
	}
	rc = offstat__csv_next(*out, &nf, &f, &lens, &line);
	if (rc == 1 && is_header(nf, f)) {
		return (OFFSTAT_OK);
	}
	if (rc == -2) {
		rc = offstat__status_local(ld->st, OFFSTAT_ENOMEM,
		                           "out of memory reading %s", path);
	} else if (rc == -3) {
		rc = offstat__status_local(
		        ld->st, OFFSTAT_EFILE, "cannot read %s: %s", path,
		        errtext(offstat__csv_errno(*out), ebuf, sizeof(ebuf)));
	} else if (rc == 0) {
		rc = offstat__status_local(ld->st, OFFSTAT_EBADINPUT,
		                           "%s is empty: expected the open "
		                           "data header",
		                           path);
	} else if (rc == -1) {
		rc = offstat__status_local(ld->st, OFFSTAT_EBADINPUT,
		                           "%s line 1 is not the open data "
		                           "header: %s",
		                           path, offstat__csv_error(*out));
	} else if (nf != NCOLS) {
		rc = offstat__status_local(ld->st, OFFSTAT_EBADINPUT,
		                           "%s line 1 is not the open data "
		                           "header: %zu columns, expected %zu",
		                           path, nf, NCOLS);
	} else {
		size_t i = 0;
		while (strcmp(f[i], columns[i]) == 0) {
			i++;
		}
		rc = offstat__status_local(
		        ld->st, OFFSTAT_EBADINPUT,
		        "%s line 1 is not the open data header: column %zu is "
		        "'%s', expected '%s'",
		        path, i + 1, show(buf, sizeof(buf), f[i], lens[i]),
		        columns[i]);
	}
	if (rc == OFFSTAT_EBADINPUT) {
		offstat__status_detail(
		        ld->st, "the header is: %s",
		        "Financial Year,Financial Quarter,Force "
		        "Name,Offence Description,Offence "
		        "Group,Offence Subgroup,Offence "
		        "Code,Number of Offences");
	}
	offstat__csv_close(*out);
	*out = NULL;
	return (rc);
}

/* The first reading: counts the rows of path and lists those that cannot
 * be sent. */
static int
check_file(struct load *ld, const char *path, uint64_t *rows)
{
	offstat__csv      *r;
	const char *const *f;
	const size_t      *lens;
	size_t             nf;
	uint64_t           line, count, row = 0;
	unsigned           quarter;
	char               why[160];
	char               ebuf[128];
	int                rc;

	if ((rc = open_file(ld, path, &r)) != OFFSTAT_OK) {
		return (rc);
	}
	while ((rc = offstat__csv_next(r, &nf, &f, &lens, &line)) != 0) {
		if (rc == -2 || rc == -3) {
			break;
		}
		if (rc == -1) {
			bad_row(ld, path, line, ++row, offstat__csv_error(r));
			continue;
		}
		rc = parse_row(nf, f, lens, &quarter, &count, why,
		               sizeof(why));
		if (rc == 0) {
			continue;
		}
		row++;
		if (rc < 0) {
			bad_row(ld, path, line, row, why);
		}
	}
	if (rc == -2) {
		rc = offstat__status_local(ld->st, OFFSTAT_ENOMEM,
		                           "out of memory reading %s", path);
	} else if (rc == -3) {
		rc = offstat__status_local(
		        ld->st, OFFSTAT_EFILE, "cannot read %s: %s", path,
		        errtext(offstat__csv_errno(r), ebuf, sizeof(ebuf)));
	}
	offstat__csv_close(r);
	*rows = row;
	return (rc);
}

/* Where the rows of a new batch go; false when memory ran out. */
static bool
batch_reset(struct load *ld)
{
	offstat__result_free(ld->arena);
	ld->n     = 0;
	ld->bytes = 0;
	return ((ld->arena = offstat__result_new(1)) != NULL);
}

/*
 * A reason that names another row of the batch by the line the service
 * saw it on ("same force, code and quarter as line 2 (...)", line 1 being
 * a header) names it by its line in the file instead. NULL when there is
 * nothing to change, or no memory.
 */
static char *
file_lines(struct load *ld, const char *why, size_t lo, size_t hi)
{
	static const char marker[] = "as line ";
	const char       *at       = strstr(why, marker);
	unsigned long     line;
	char             *end, *out;
	size_t            n;

	if (at == NULL) {
		return (NULL);
	}
	line = strtoul(at + strlen(marker), &end, 10);
	if (end == at + strlen(marker) || line < 2 || line - 2 >= hi - lo) {
		return (NULL);
	}
	n = strlen(why) + 24;
	if ((out = malloc(n)) != NULL) {
		snprintf(out, n, "%.*s%s%" PRIu64 "%s", (int)(at - why), why,
		         marker, ld->lines[lo + line - 2], end);
	}
	return (out);
}

/* Rows the service refused: each "row N: reason" names a row of the
 * batch rows[lo, hi). */
static void
refused(struct load *ld, size_t lo, size_t hi)
{
	offstat_status     copy = *ld->st;
	unsigned long long more;
	uint64_t           n;
	int                skip;

	/* The service's lines are replaced by lines naming the file. */
	ld->st->details   = NULL;
	ld->st->n_details = 0;
	for (size_t i = 0; i < copy.n_details; i++) {
		const char *d = copy.details[i];
		skip          = 0;
		if (sscanf(d, "row %" SCNu64 ": %n", &n, &skip) == 1 &&
		    skip > 0 && n >= 1 && n <= hi - lo) {
			char *why = file_lines(ld, d + skip, lo, hi);
			bad_row(ld, ld->path, ld->lines[lo + n - 1],
			        ld->numbers[lo + n - 1],
			        why != NULL ? why : d + skip);
			free(why);
		} else if (sscanf(d, "and %llu more bad rows", &more) == 1) {
			ld->res->bad_rows_total += more;
		} else {
			bad_row(ld, ld->path, 0, 0, d);
		}
	}
	for (size_t i = 0; i < copy.n_details; i++) {
		free(copy.details[i]);
	}
	free(copy.details);
}

/*
 * Sends rows[lo, hi) of the batch as one request. A batch over the
 * service's size limit is halved, and later batches are kept to the size
 * of the half.
 */
static int
send_rows(struct load *ld, size_t lo, size_t hi)
{
	offstat_ingest_reply *reply = NULL;
	char                  key[KEY_SIZE];
	unsigned              tries = 1;
	int                   rv;

	new_key(key);
	rv = batch_call(ld->c, ld->res->release, ld->ptrs + lo, hi - lo, NULL,
	                key, &reply, &tries, ld->st);
	ld->res->retries += tries - 1;
	if (rv == OFFSTAT_EEXHAUSTED && hi - lo > 1) {
		size_t mid   = lo + (hi - lo) / 2;
		size_t bytes = 0;
		for (size_t i = lo; i < mid; i++) {
			bytes += ld->sizes[i];
		}
		ld->res->splits++;
		if (ld->rows_max > mid - lo) {
			ld->rows_max = mid - lo;
		}
		if (ld->bytes_max > bytes) {
			ld->bytes_max = bytes;
		}
		if ((rv = send_rows(ld, lo, mid)) != OFFSTAT_OK) {
			return (rv);
		}
		return (send_rows(ld, mid, hi));
	}
	if (rv == OFFSTAT_EBADREQUEST) {
		refused(ld, lo, hi);
		return (rv);
	}
	if (rv != OFFSTAT_OK) {
		return (rv);
	}
	ld->res->rows_sent += reply->rows_accepted;
	ld->res->changed = reply->changed;
	ld->res->batches++;
	offstat__result_free(reply);
	if (ld->progress != NULL && ld->progress(ld->arg, ld->res->rows_sent,
	                                         ld->res->rows_total) != 0) {
		return (offstat__status_local(
		        ld->st, OFFSTAT_ESTOPPED,
		        "stopped after %" PRIu64 " of %" PRIu64 " rows",
		        ld->res->rows_sent, ld->res->rows_total));
	}
	return (OFFSTAT_OK);
}

static int
flush(struct load *ld)
{
	int rv;

	if (ld->n == 0) {
		return (OFFSTAT_OK);
	}
	if ((rv = send_rows(ld, 0, ld->n)) != OFFSTAT_OK) {
		return (rv);
	}
	if (!batch_reset(ld)) {
		return (offstat__status_local(ld->st, OFFSTAT_ENOMEM,
		                              "out of memory"));
	}
	return (OFFSTAT_OK);
}

/* Copies a field into the batch's region. */
static char *
keep(struct load *ld, const char *s, size_t len)
{
	char *p = offstat__result_alloc(ld->arena, len + 1);

	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return (p);
}

/* Adds a row to the batch, sending the batch first when it is full. */
static int
add_row(struct load *ld, const char *const *f, const size_t *lens,
        unsigned quarter, uint64_t count, uint64_t line, uint64_t number)
{
	Offstat__V1__IngestRow row = OFFSTAT__V1__INGEST_ROW__INIT;
	char                  *s[NCOLS];
	size_t                 size;
	int                    rv;

	for (size_t i = 0; i < NCOLS; i++) {
		s[i] = (char *)f[i];
	}
	row.financial_year      = s[0];
	row.financial_quarter   = quarter;
	row.force_name          = s[2];
	row.offence_description = s[3];
	row.offence_group       = s[4];
	row.offence_subgroup    = s[5];
	row.offence_code        = s[6];
	row.count               = count;
	size = offstat__v1__ingest_row__get_packed_size(&row) + ROW_OVERHEAD;
	if (ld->n > 0 &&
	    (ld->n >= ld->rows_max || ld->bytes + size > ld->bytes_max)) {
		if ((rv = flush(ld)) != OFFSTAT_OK) {
			return (rv);
		}
	}
	/* The strings outlive the reader's record. */
	for (size_t i = 0; i < NCOLS; i++) {
		if (i == C_QUARTER || i == C_COUNT) {
			continue;
		}
		if ((s[i] = keep(ld, f[i], lens[i])) == NULL) {
			return (offstat__status_local(ld->st, OFFSTAT_ENOMEM,
			                              "out of memory"));
		}
	}
	row.financial_year      = s[0];
	row.force_name          = s[2];
	row.offence_description = s[3];
	row.offence_group       = s[4];
	row.offence_subgroup    = s[5];
	row.offence_code        = s[6];
	ld->rows[ld->n]         = row;
	ld->ptrs[ld->n]         = &ld->rows[ld->n];
	ld->lines[ld->n]        = line;
	ld->numbers[ld->n]      = number;
	ld->sizes[ld->n]        = size;
	ld->n++;
	ld->bytes += size;
	return (OFFSTAT_OK);
}

/* The second reading: sends the rows of path, expected in number. */
static int
send_file(struct load *ld, const char *path, uint64_t expected)
{
	offstat__csv      *r;
	const char *const *f;
	const size_t      *lens;
	size_t             nf;
	uint64_t           line, count, row = 0;
	unsigned           quarter;
	char               why[160];
	char               ebuf[128];
	int                rc, rv = OFFSTAT_OK;

	if ((rv = open_file(ld, path, &r)) != OFFSTAT_OK) {
		return (rv);
	}
	ld->path = path;
	while (rv == OFFSTAT_OK &&
	       (rc = offstat__csv_next(r, &nf, &f, &lens, &line)) != 0) {
		if (rc == -2) {
			rv = offstat__status_local(ld->st, OFFSTAT_ENOMEM,
			                           "out of memory reading %s",
			                           path);
			break;
		}
		if (rc == -3) {
			rv = offstat__status_local(
			        ld->st, OFFSTAT_EFILE, "cannot read %s: %s",
			        path,
			        errtext(offstat__csv_errno(r), ebuf,
			                sizeof(ebuf)));
			break;
		}
		rc = rc < 0 ? -1
		            : parse_row(nf, f, lens, &quarter, &count, why,
		                        sizeof(why));
		if (rc == 0) {
			continue;
		}
		if (rc < 0 || ++row > expected) {
			/* The first reading found every row good. */
			rv = offstat__status_local(ld->st, OFFSTAT_EFILE,
			                           "%s changed while it was "
			                           "being sent (line %" PRIu64
			                           ")",
			                           path, line);
			break;
		}
		rv = add_row(ld, f, lens, quarter, count, line, row);
	}
	if (rv == OFFSTAT_OK) {
		rv = flush(ld);
	}
	if (rv == OFFSTAT_OK && row != expected) {
		rv = offstat__status_local(
		        ld->st, OFFSTAT_EFILE,
		        "%s changed while it was being sent "
		        "(%" PRIu64 " rows, not %" PRIu64 ")",
		        path, row, expected);
	}
	offstat__csv_close(r);
	return (rv);
}

/* After a failure: aborts the open release, and says so in the status. */
static void
abandon(struct load *ld, int why)
{
	offstat_status        ast   = OFFSTAT_STATUS_INIT;
	offstat_ingest_reply *reply = NULL;
	uint64_t              id    = ld->res->release;
	/* When the service could not be reached, one try is enough. */
	unsigned attempts = retryable(why) ? 1 : OFFSTAT_INGEST_ATTEMPTS;
	int      rv;

	rv = finish_call(ld->c, id, false, attempts, &reply, NULL, &ast);
	if (rv == OFFSTAT_OK) {
		ld->res->state = OFFSTAT_RELEASE_ABORTED;
		ld->res->served_release =
		        offstat__conv_str(&ld->cv, reply->served_release);
		offstat__result_free(reply);
		offstat__status_append(ld->st,
		                       "; release %" PRIu64
		                       " was aborted: nothing was committed",
		                       id);
	} else {
		offstat__status_append(ld->st,
		                       "; aborting release %" PRIu64
		                       " failed too (%s): unless it was "
		                       "committed, the service rolls it back "
		                       "when it expires",
		                       id,
		                       ast.message != NULL
		                               ? ast.message
		                               : offstat_strerror(rv));
	}
	offstat_status_clear(&ast);
}

/* Allocates the batch's arrays for cap rows. */
static bool
batch_alloc(struct load *ld, size_t cap)
{
	ld->cap     = cap;
	ld->rows    = calloc(cap, sizeof(*ld->rows));
	ld->ptrs    = calloc(cap, sizeof(*ld->ptrs));
	ld->lines   = calloc(cap, sizeof(*ld->lines));
	ld->numbers = calloc(cap, sizeof(*ld->numbers));
	ld->sizes   = calloc(cap, sizeof(*ld->sizes));
	return (ld->rows != NULL && ld->ptrs != NULL && ld->lines != NULL &&
	        ld->numbers != NULL && ld->sizes != NULL && batch_reset(ld));
}

static void
batch_free(struct load *ld)
{
	offstat__result_free(ld->arena);
	free(ld->rows);
	free(ld->ptrs);
	free(ld->lines);
	free(ld->numbers);
	free(ld->sizes);
}

/* Sends what the first reading counted: open, batches, commit. */
static int
load(struct load *ld, const char *const *paths, size_t n_paths,
     const uint64_t *rows, const char *label, const char *source)
{
	offstat_ingest_reply  *reply;
	offstat_ingest_result *res = ld->res;
	int                    rv;

	if ((rv = offstat_ingest_open(&res->release, ld->c, label, source,
	                              ld->st)) != OFFSTAT_OK) {
		return (rv);
	}
	res->state = OFFSTAT_RELEASE_OPEN;
	for (size_t i = 0; i < n_paths; i++) {
		if ((rv = send_file(ld, paths[i], rows[i])) != OFFSTAT_OK) {
			goto fail;
		}
	}
	if ((rv = offstat_ingest_commit(&reply, ld->c, res->release,
	                                ld->st)) != OFFSTAT_OK) {
		goto fail;
	}
	res->state   = OFFSTAT_RELEASE_COMMITTED;
	res->changed = reply->changed;
	res->served_release =
	        offstat__conv_str(&ld->cv, reply->served_release);
	offstat__result_free(reply);
	return (OFFSTAT_OK);

fail:
	if (rv == OFFSTAT_EBADREQUEST) {
		/* The service's sentence says the release stays open for a
		 * corrected batch; this load does not send one. */
		uint64_t n = res->bad_rows_total;
		offstat__status_local(ld->st, rv,
		                      "the service refused %" PRIu64
		                      " row%s of %s",
		                      n, n == 1 ? "" : "s", ld->path);
		if (ld->st != NULL) {
			ld->st->code = 3;
		}
		bad_rows_done(ld);
	}
	abandon(ld, rv);
	return (rv);
}

int
offstat_ingest_files(offstat_ingest_result **out, offstat_client *c,
                     const char *const *paths, size_t n_paths,
                     const char *label, const char *source,
                     unsigned batch_rows, offstat_progress_fn progress,
                     void *arg, offstat_status *st)
{
	struct load            ld  = {0};
	offstat_status         own = OFFSTAT_STATUS_INIT;
	offstat_ingest_result *res;
	uint64_t              *rows;
	int                    rv = OFFSTAT_OK;

	offstat__status_reset(st);
	if (out != NULL) {
		*out = NULL;
	}
	if (out == NULL || c == NULL || paths == NULL || n_paths == 0 ||
	    label == NULL || label[0] == '\0') {
		return (offstat__status_local(
		        st, OFFSTAT_EINVAL,
		        "offstat_ingest_files needs a "
		        "result pointer, a client, files "
		        "and a label"));
	}
	for (size_t i = 0; i < n_paths; i++) {
		if (paths[i] == NULL) {
			return (offstat__status_local(st, OFFSTAT_EINVAL,
			                              "file %zu is NULL",
			                              i + 1));
		}
	}
	if (batch_rows > OFFSTAT_INGEST_MAX_ROWS) {
		return (offstat__status_local(
		        st, OFFSTAT_EINVAL,
		        "a batch holds at most %d rows, not %u",
		        OFFSTAT_INGEST_MAX_ROWS, batch_rows));
	}
	if ((res = offstat__result_new(sizeof(*res))) == NULL ||
	    (rows = calloc(n_paths, sizeof(*rows))) == NULL) {
		offstat__result_free(res);
		return (offstat__status_local(st, OFFSTAT_ENOMEM,
		                              "out of memory"));
	}
	/* The service's details name the bad rows, so they are read even
	 * when the caller wants no status. */
	if (st == NULL) {
		st = &own;
	}
	ld.c         = c;
	ld.st        = st;
	ld.res       = res;
	ld.cv        = (offstat__conv){res, false};
	ld.progress  = progress;
	ld.arg       = arg;
	ld.rows_max  = batch_rows > 0 ? batch_rows : OFFSTAT_INGEST_BATCH_ROWS;
	ld.bytes_max = OFFSTAT_INGEST_BATCH_BYTES;
	res->served_release = offstat__conv_str(&ld.cv, "");

	/* Nothing is sent for files that cannot all be sent. */
	for (size_t i = 0; i < n_paths && rv == OFFSTAT_OK; i++) {
		rv = check_file(&ld, paths[i], &rows[i]);
		res->rows_total += rows[i];
	}
	if (rv == OFFSTAT_OK && res->bad_rows_total > 0) {
		uint64_t n = res->bad_rows_total;
		/* The details, listed meanwhile, stay. */
		rv = offstat__status_local(
		        st, OFFSTAT_EBADINPUT,
		        "%" PRIu64 " row%s of %s cannot be read as open data; "
		        "nothing was sent",
		        n, n == 1 ? "" : "s",
		        n_paths == 1 ? paths[0] : "the files");
		bad_rows_done(&ld);
	} else if (rv == OFFSTAT_OK && res->rows_total == 0) {
		rv = offstat__status_local(
		        st, OFFSTAT_EBADINPUT, "no rows to send in %s",
		        n_paths == 1 ? paths[0] : "the files");
	}
	if (rv == OFFSTAT_OK && progress != NULL &&
	    progress(arg, 0, res->rows_total) != 0) {
		rv = offstat__status_local(st, OFFSTAT_ESTOPPED,
		                           "stopped before anything was sent");
	}
	if (rv == OFFSTAT_OK) {
		if (!batch_alloc(&ld, ld.rows_max)) {
			rv = offstat__status_local(st, OFFSTAT_ENOMEM,
			                           "out of memory");
		} else {
			rv = load(&ld, paths, n_paths, rows, label, source);
		}
	}
	batch_free(&ld);
	free(rows);
	if (ld.cv.failed) {
		offstat__result_free(res);
		res = NULL;
		rv  = offstat__status_local(st, OFFSTAT_ENOMEM,
		                            "out of memory");
	}
	offstat_status_clear(&own);
	*out = res;
	return (rv);
}

int
offstat_ingest_file(offstat_ingest_result **out, offstat_client *c,
                    const char *path, const char *label, const char *source,
                    unsigned batch_rows, offstat_progress_fn progress,
                    void *arg, offstat_status *st)
{
	const char *paths[1] = {path};

	return (offstat_ingest_files(out, c, paths, 1, label, source,
	                             batch_rows, progress, arg, st));
}

void
offstat_ingest_result_free(offstat_ingest_result *result)
{
	offstat__result_free(result);
}
