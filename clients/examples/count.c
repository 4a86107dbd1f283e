/*
 * count: prints one figure from offstatd, with its flags and source.
 *
 *     count [URL [AREA OFFENCE PERIOD]]
 *
 * With no arguments it asks tcp://127.0.0.1:7355 for Dorset's count of
 * sexual communication with a child (S15A) in 2020/21. Build it against an
 * installed liboffstat with
 *
 *     cc count.c $(pkg-config --cflags --libs offstat)
 *
 * or in CMake with find_package(offstat) and offstat::client.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <offstat/offstat.h>

/* The title of the source with this id, or the id itself. */
static const char *
source_title(const offstat_count *count, const char *id)
{
	for (size_t i = 0; i < count->n_sources; i++) {
		if (strcmp(count->sources[i].id, id) == 0) {
			return (count->sources[i].title);
		}
	}
	return (id);
}

int
main(int argc, char **argv)
{
	const char     *url     = argc > 1 ? argv[1] : OFFSTAT_DEFAULT_URL;
	const char     *area    = argc > 4 ? argv[2] : "Dorset";
	const char     *offence = argc > 4 ? argv[3] : "S15A";
	const char     *period  = argc > 4 ? argv[4] : "2020/21";
	offstat_status  st      = OFFSTAT_STATUS_INIT;
	offstat_client *client;
	offstat_count  *count;
	int             rv;

	if ((rv = offstat_client_open(&client, url)) != OFFSTAT_OK) {
		fprintf(stderr, "count: %s: %s\n", url, offstat_strerror(rv));
		return (rv);
	}
	rv = offstat_get_count(&count, client, area, offence, period, NULL,
	                       &st);
	if (rv != OFFSTAT_OK) {
		/* The status carries the service's own message. */
		fprintf(stderr, "count: %s\n",
		        st.message != NULL ? st.message
		                           : offstat_strerror(rv));
		for (size_t i = 0; i < st.n_details; i++) {
			fprintf(stderr, "count:   %s\n", st.details[i]);
		}
		offstat_status_clear(&st);
		offstat_client_close(client);
		return (rv);
	}

	printf("%s, %s, %s: ", count->area.name, count->offence.code,
	       count->value.period.text);
	if (count->value.present) {
		printf("%" PRIu64, count->value.count);
	} else {
		printf("no figure");
	}
	for (unsigned bit = 1; bit != 0; bit <<= 1) {
		if ((count->value.flags & bit) != 0 &&
		    offstat_flag_name(bit) != NULL) {
			printf(" [%s]", offstat_flag_name(bit));
		}
	}
	if (count->value.source_id[0] != '\0') {
		printf(" (source: %s)",
		       source_title(count, count->value.source_id));
	}
	printf("\n");

	offstat_status_clear(&st);
	offstat_count_free(count);
	offstat_client_close(client);
	return (0);
}
