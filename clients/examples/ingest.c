/*
 * ingest: loads a file of Home Office open data into offstatd as one new
 * release, and says what it committed.
 *
 *     OFFSTAT_TOKEN=<writer token> ingest FILE LABEL [URL]
 *
 * The file is sent in batches; the release is committed at the end, or
 * aborted if anything fails, so readers see all of the file or none of it.
 * Build it against an installed liboffstat with
 *
 *     cc ingest.c $(pkg-config --cflags --libs offstat)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <offstat/offstat.h>

/* Called after every batch the service takes. */
static int
progress(void *arg, uint64_t sent, uint64_t total)
{
	(void)arg;
	fprintf(stderr, "ingest: %" PRIu64 " of %" PRIu64 " rows sent\n", sent,
	        total);
	return (0); /* Nonzero would stop, and abort the release. */
}

int
main(int argc, char **argv)
{
	const char            *url = argc > 3 ? argv[3] : OFFSTAT_DEFAULT_URL;
	offstat_status         st  = OFFSTAT_STATUS_INIT;
	offstat_client        *client;
	offstat_ingest_result *res;
	int                    rv;

	if (argc < 3) {
		fprintf(stderr, "usage: ingest FILE LABEL [URL]\n");
		return (2);
	}
	if ((rv = offstat_client_open(&client, url)) != OFFSTAT_OK) {
		fprintf(stderr, "ingest: %s: %s\n", url, offstat_strerror(rv));
		return (rv);
	}
	/* Writes need a writer token. */
	if ((rv = offstat_client_set_token(client, getenv("OFFSTAT_TOKEN"))) !=
	    OFFSTAT_OK) {
		fprintf(stderr, "ingest: bad token: %s\n",
		        offstat_strerror(rv));
		offstat_client_close(client);
		return (rv);
	}
	rv = offstat_ingest_file(&res, client, argv[1], argv[2], NULL, 0,
	                         progress, NULL, &st);
	if (rv != OFFSTAT_OK) {
		/* The message says whether the release was aborted; the
		 * details name each bad row by file and line. */
		fprintf(stderr, "ingest: %s\n",
		        st.message != NULL ? st.message
		                           : offstat_strerror(rv));
		for (size_t i = 0; i < st.n_details; i++) {
			fprintf(stderr, "ingest:   %s\n", st.details[i]);
		}
	} else {
		printf("release %" PRIu64 " committed: %" PRIu64
		       " rows, %" PRIu64 " figures changed\n",
		       res->release, res->rows_sent, res->changed);
	}
	/* Written on failure too, unless memory ran out. */
	offstat_ingest_result_free(res);
	offstat_status_clear(&st);
	offstat_client_close(client);
	return (rv);
}
