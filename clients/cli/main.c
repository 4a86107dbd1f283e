/*
 * offstat: the command-line client of offstatd.
 *
 * Parses the command line, opens one client, runs one command and exits
 * with 0, 1 (output could not be written), 2 (usage) or liboffstat's error
 * value, so that scripts can tell a refused connection (5) from an unknown
 * area (25).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void
cli_note(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (cli->quiet) {
		return;
	}
	fputs("offstat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_fail(const struct cli *cli, int rv, const offstat_status *st)
{
	const char *name = offstat_err_name(rv);

	cli_note(cli, "%s",
	         st != NULL && st->message != NULL ? st->message
	                                           : offstat_strerror(rv));
	for (size_t i = 0; st != NULL && i < st->n_details; i++) {
		cli_note(cli, "  %s", st->details[i]);
	}
	if (cli->verbose > 0) {
		if (st != NULL && st->code != 0) {
			cli_note(cli,
			         "the service answered status %d; exit %d "
			         "(%s)",
			         st->code, rv, name != NULL ? name : "?");
		} else {
			cli_note(cli, "exit %d (%s)", rv,
			         name != NULL ? name : "?");
		}
	}
	return (rv);
}

static int
finish_output(const struct cli *cli, int rv)
{
	/* A full disk or a closed pipe must not look like success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_note(cli, "cannot write the output");
		return (rv != 0 ? rv : CLI_EXIT_FAILURE);
	}
	return (rv);
}

static const char *
env_or_null(const char *name)
{
	const char *v = getenv(name);
	return (v != NULL && v[0] != '\0' ? v : NULL);
}

/* What a failure to connect usually means, for people. */
static void
open_hint(struct cli *cli, int rv)
{
	bool tls = strstr(cli->url, "tls+") != NULL;

	switch (rv) {
	case OFFSTAT_EADDRINVAL:
		cli_note(cli, "addresses look like tcp://HOST:PORT, "
		              "tls+tcp://HOST:PORT or ipc:///path");
		break;
	case OFFSTAT_EINVAL:
		if (cli->tls_ca != NULL || cli->tls_cert != NULL ||
		    cli->tls_key != NULL || cli->tls_server_name != NULL) {
			cli_note(cli,
			         tls ? "--tls-cert and --tls-key go together"
			             : "TLS options need a tls+tcp:// address");
		}
		break;
	case OFFSTAT_EFILE:
		cli_note(cli, "a TLS file (--tls-ca, --tls-cert, --tls-key) "
		              "cannot be read, is not PEM, or the key does not "
		              "open");
		break;
	case OFFSTAT_ETLS:
		cli_note(cli, "the service's certificate is not signed by the "
		              "CA given (--tls-ca) or does not name the host, "
		              "or the service wants a client certificate "
		              "(--tls-cert, --tls-key) it trusts");
		break;
	default:
		break;
	}
}

static int
run(struct cli *cli, int argc, char **argv)
{
	offstat_client     *client;
	offstat_client_opts o = OFFSTAT_CLIENT_OPTS_INIT;
	const char         *env;
	int                 rv;

	cli->url        = OFFSTAT_DEFAULT_URL;
	cli->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
	if ((env = getenv("OFFSTAT_URL")) != NULL && env[0] != '\0') {
		cli->url = env;
	}
	if ((env = getenv("OFFSTAT_TOKEN")) != NULL && env[0] != '\0') {
		cli->token = env;
	}
	cli->tls_ca           = env_or_null("OFFSTAT_TLS_CA");
	cli->tls_cert         = env_or_null("OFFSTAT_TLS_CERT");
	cli->tls_key          = env_or_null("OFFSTAT_TLS_KEY");
	cli->tls_key_password = env_or_null("OFFSTAT_TLS_KEY_PASSWORD");

	if ((rv = cli_parse(cli, argc, argv)) != 0) {
		return (rv);
	}
	if (cli->help) {
		cli_help(stdout, cli->command);
		return (finish_output(cli, 0));
	}
	if (cli->version) {
		printf("offstat %s (liboffstat %s)\n", CLI_VERSION,
		       offstat_version());
		return (finish_output(cli, 0));
	}
	if (!cli->format_set) {
		cli->format = isatty(STDOUT_FILENO) ? CLI_TABLE : CLI_JSON;
	}

	if (cli->verbose > 0) {
		cli_note(cli, "%s via %s, timeout %d ms%s", cli->command->name,
		         cli->url, cli->timeout_ms,
		         cli->token != NULL ? ", with a token" : "");
	}
	o.url                = cli->url;
	o.connect_timeout_ms = cli->timeout_ms;
	o.tls_ca             = cli->tls_ca;
	o.tls_cert           = cli->tls_cert;
	o.tls_key            = cli->tls_key;
	o.tls_key_password   = cli->tls_key_password;
	o.tls_server_name    = cli->tls_server_name;
	if ((rv = offstat_client_open_opts(&client, &o)) != OFFSTAT_OK) {
		cli_note(cli, "%s: %s", cli->url, offstat_strerror(rv));
		open_hint(cli, rv);
		return (rv);
	}
	if ((rv = offstat_client_set_timeout(client, cli->timeout_ms)) != 0 ||
	    (rv = offstat_client_set_token(client, cli->token)) != 0) {
		cli_note(cli, "%s",
		         rv == OFFSTAT_EINVAL
		                 ? "the token contains a control character"
		                 : offstat_strerror(rv));
		offstat_client_close(client);
		return (rv);
	}
	rv = cli->command->run(cli, client);
	offstat_client_close(client);
	return (finish_output(cli, rv));
}

int
main(int argc, char **argv)
{
	struct cli cli = {0};
	int        rv;

	rv = run(&cli, argc, argv);
	free(cli.args);
	return (rv);
}
