/*
 * rawldap.c - the directory's own capacity for admin password resets, as
 * seen by a tight asynchronous libldap client. The yardstick for bench/run.
 *
 *   rawldap -H URI -D BINDDN -y PWFILE -C CAFILE [-c CONNS] [-i INFLIGHT]
 *       -n N -u USERFILE [-t TAG]
 *
 * Opens CONNS connections to URI (TLS verified against CAFILE, a fresh TLS
 * context per handle), simple-binds each as BINDDN with the password in
 * PWFILE, then sends N RFC 3062 password modify operations carrying the
 * ppolicy request control, exactly the request ssprd sends for an OpenLDAP
 * reset. Up to INFLIGHT operations are outstanding on each connection; one
 * poll(2) over all sockets, ldap_result() with a zero timeout to collect
 * answers: no event library, no queue, no per-operation allocation of our
 * own.
 *
 * Users are the DNs of USERFILE (one a line), taken round-robin. Operation i
 * sets the password "TAG-i" on user i mod U: distinct for every operation,
 * so a password is never reused (the fixture keeps a history) as long as
 * each run of one fixture gets its own TAG. Two operations on one DN are
 * never outstanding at once (slapd races on an entry's ppolicy history):
 * when the next user is still busy, sending waits for its answer.
 *
 * Prints one line:
 *   resets=N seconds=S rate=R failures=F p50_ms=.. p99_ms=.. cpu_us_per_op=..
 *   conns=C inflight=I
 * timed from the first request sent (after every bind) to the last answer
 * read; latency per operation from its send to its answer; CPU is user +
 * system time of the process over the same span.
 * Exit status 0 when the run completed, even with failures (they are
 * counted, and the first few are described on stderr); 1 when it could not
 * run; 2 on usage errors. It never judges the figures.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#include "bench/benchlib.h"

#define MAX_CONNS	64
#define MAX_INFLIGHT	256
#define STALL_SECONDS	30	/* no answer at all for this long: give up */
#define SHOW_FAILURES	5	/* failures described on stderr */

struct slot {
	int msgid;		/* -1 when free */
	size_t user;
	double started;
};

struct conn {
	LDAP *ld;
	int fd;
	unsigned n_inflight;
	struct slot *slots;
};

static struct conn conns[MAX_CONNS];
static unsigned nconns = 4, inflight = 16;
static char **users;
static size_t nusers;
static unsigned char *busy;	/* per user: an operation is outstanding */
static double *latency;		/* per operation, seconds */
static const char *tag = "rawldap";
static unsigned long failures;

static void
usage(void)
{
	fprintf(stderr, "usage: rawldap -H URI -D BINDDN -y PWFILE -C CAFILE "
	    "[-c CONNS] [-i INFLIGHT] -n N -u USERFILE [-t TAG]\n");
	exit(2);
}

static char *
read_password(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[1024];
	size_t n;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return strdup(buf);
}

static void
connect_one(struct conn *c, const char *uri, const char *binddn,
    const char *pw, const char *cafile)
{
	struct berval cred = { strlen(pw), (char *)pw };
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0, rc;

	if ((rc = ldap_initialize(&c->ld, uri)) != LDAP_SUCCESS) {
		fprintf(stderr, "rawldap: %s: %s\n", uri, ldap_err2string(rc));
		exit(1);
	}
	if (ldap_set_option(c->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(c->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(c->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) ||
	    ldap_set_option(c->ld, LDAP_OPT_X_TLS_CACERTFILE, cafile) ||
	    ldap_set_option(c->ld, LDAP_OPT_X_TLS_NEWCTX, &zero)) {
		fprintf(stderr, "rawldap: cannot set TLS options\n");
		exit(1);
	}
	rc = ldap_sasl_bind_s(c->ld, binddn, LDAP_SASL_SIMPLE, &cred, NULL,
	    NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		fprintf(stderr, "rawldap: bind to %s as %s: %s\n", uri, binddn,
		    ldap_err2string(rc));
		exit(1);
	}
	if (ldap_get_option(c->ld, LDAP_OPT_DESC, &c->fd) != LDAP_OPT_SUCCESS ||
	    c->fd < 0) {
		fprintf(stderr, "rawldap: no socket after the bind\n");
		exit(1);
	}
	c->slots = calloc(inflight, sizeof(*c->slots));
	if (c->slots == NULL) {
		perror("rawldap");
		exit(1);
	}
	for (unsigned i = 0; i < inflight; i++)
		c->slots[i].msgid = -1;
}

/* Send operation `op` on c, in a free slot. Returns 0, or -1 when the
 * request could not be written. */
static int
send_one(struct conn *c, unsigned long op)
{
	char pw[64];
	size_t u = op % nusers;
	struct berval user = { strlen(users[u]), users[u] };
	struct berval newpw;
	LDAPControl ppreq = { .ldctl_oid = LDAP_CONTROL_PASSWORDPOLICYREQUEST };
	LDAPControl *ctrls[] = { &ppreq, NULL };
	struct slot *s = NULL;
	int msgid, rc;

	for (unsigned i = 0; i < inflight; i++)
		if (c->slots[i].msgid == -1) {
			s = &c->slots[i];
			break;
		}
	if (s == NULL)
		return -1;
	newpw.bv_len = (ber_len_t)snprintf(pw, sizeof(pw), "%s-%lu", tag, op);
	newpw.bv_val = pw;
	s->started = bench_now();
	rc = ldap_passwd(c->ld, &user, NULL, &newpw, ctrls, NULL, &msgid);
	if (rc != LDAP_SUCCESS) {
		fprintf(stderr, "rawldap: sending to %s: %s\n", users[u],
		    ldap_err2string(rc));
		return -1;
	}
	s->msgid = msgid;
	s->user = u;
	busy[u] = 1;
	c->n_inflight++;
	return 0;
}

/* Read every complete answer c has. Returns how many, or -1 when the
 * connection failed. */
static int
collect(struct conn *c, unsigned long *done)
{
	struct timeval zero = { 0, 0 };
	int got = 0;

	for (;;) {
		LDAPMessage *msg = NULL;
		struct slot *s = NULL;
		char *text = NULL;
		int rc, err = LDAP_OTHER, id;

		rc = ldap_result(c->ld, LDAP_RES_ANY, LDAP_MSG_ALL, &zero, &msg);
		if (rc == 0)
			return got;
		if (rc < 0)
			return -1;
		id = ldap_msgid(msg);
		for (unsigned i = 0; i < inflight; i++)
			if (c->slots[i].msgid == id) {
				s = &c->slots[i];
				break;
			}
		if (ldap_parse_result(c->ld, msg, &err, NULL, &text, NULL, NULL,
		    1) != LDAP_SUCCESS)
			err = LDAP_OTHER;
		if (s == NULL) {
			ldap_memfree(text);
			continue;
		}
		if (err != LDAP_SUCCESS && failures++ < SHOW_FAILURES)
			fprintf(stderr, "rawldap: %s: %s (%s)\n", users[s->user],
			    ldap_err2string(err), text ? text : "");
		ldap_memfree(text);
		latency[*done] = bench_now() - s->started;
		(*done)++;
		busy[s->user] = 0;
		s->msgid = -1;
		c->n_inflight--;
		got++;
	}
}

/* Send what may go now: every connection up to INFLIGHT, spreading the
 * operations (one round per slot level, so the least busy connection gets
 * the next one), in order, stopping at a user who is still busy. Returns 0,
 * or -1 when a request could not be written. */
static int
fill(unsigned long n, unsigned long *next)
{
	for (unsigned level = 0; level < inflight; level++)
		for (unsigned i = 0; i < nconns && *next < n; i++) {
			if (conns[i].n_inflight > level)
				continue;
			if (busy[*next % nusers])
				return 0;
			if (send_one(&conns[i], *next) != 0)
				return -1;
			(*next)++;
		}
	return 0;
}

int
main(int argc, char **argv)
{
	const char *uri = NULL, *binddn = NULL, *pwfile = NULL, *cafile = NULL;
	const char *userfile = NULL;
	struct pollfd pfd[MAX_CONNS];
	unsigned long n = 0, next = 0, done = 0;
	double t0, t1, cpu0, cpu1, last_answer;
	char *pw;
	int ch;

	while ((ch = getopt(argc, argv, "C:c:D:H:i:n:t:u:y:")) != -1) {
		switch (ch) {
		case 'C':
			cafile = optarg;
			break;
		case 'c':
			nconns = (unsigned)bench_number(optarg, 1, MAX_CONNS, usage);
			break;
		case 'D':
			binddn = optarg;
			break;
		case 'H':
			uri = optarg;
			break;
		case 'i':
			inflight = (unsigned)bench_number(optarg, 1, MAX_INFLIGHT, usage);
			break;
		case 'n':
			n = bench_number(optarg, 1, 100000000, usage);
			break;
		case 't':
			tag = optarg;
			break;
		case 'u':
			userfile = optarg;
			break;
		case 'y':
			pwfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (uri == NULL || binddn == NULL || pwfile == NULL || cafile == NULL ||
	    userfile == NULL || n == 0 || optind != argc)
		usage();

	users = bench_read_lines("rawldap", userfile, &nusers);
	busy = calloc(nusers, 1);
	latency = calloc(n, sizeof(*latency));
	if (busy == NULL || latency == NULL) {
		perror("rawldap");
		return 1;
	}
	pw = read_password(pwfile);
	for (unsigned i = 0; i < nconns; i++)
		connect_one(&conns[i], uri, binddn, pw, cafile);
	memset(pw, 0, strlen(pw));
	free(pw);

	cpu0 = bench_cpu_seconds();
	t0 = last_answer = bench_now();
	while (done < n) {
		unsigned i;
		int rc;

		if (fill(n, &next) != 0)
			return 1;
		for (i = 0; i < nconns; i++) {
			pfd[i].fd = conns[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		rc = poll(pfd, nconns, 1000);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			perror("rawldap: poll");
			return 1;
		}
		for (i = 0; i < nconns; i++) {
			int got;

			if (pfd[i].revents == 0)
				continue;
			if ((got = collect(&conns[i], &done)) < 0) {
				fprintf(stderr, "rawldap: connection %u lost\n", i);
				return 1;
			}
			if (got > 0)
				last_answer = bench_now();
		}
		if (bench_now() - last_answer > STALL_SECONDS) {
			fprintf(stderr, "rawldap: no answer for %d s; %lu of %lu "
			    "done\n", STALL_SECONDS, done, n);
			return 1;
		}
	}
	t1 = bench_now();
	cpu1 = bench_cpu_seconds();

	bench_sort(latency, n);
	printf("resets=%lu seconds=%.3f rate=%.1f failures=%lu p50_ms=%.2f "
	    "p99_ms=%.2f cpu_us_per_op=%.1f conns=%u inflight=%u\n", n, t1 - t0,
	    (double)n / (t1 - t0), failures,
	    bench_percentile(latency, n, 0.50) * 1e3,
	    bench_percentile(latency, n, 0.99) * 1e3,
	    (cpu1 - cpu0) / (double)n * 1e6, nconns, inflight);
	for (unsigned i = 0; i < nconns; i++)
		ldap_unbind_ext_s(conns[i].ld, NULL, NULL);
	return 0;
}
