/*
 * redistls.c - rediss:// through an in-process TLS tunnel (redistls.h).
 */
#include "build.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>

#include "common/xalloc.h"
#include "daemon/redistls.h"

#define PUMP_BUF	16384

struct tunnel {
	int			 tcp;		/* to the server */
	int			 local;		/* our end of the pair */
	gnutls_session_t	 session;
	gnutls_certificate_credentials_t cred;
};

static void
tunnel_free(struct tunnel *t)
{
	if (t->session != NULL) {
		/* one try: the socket may be non-blocking, the peer gone */
		(void)gnutls_bye(t->session, GNUTLS_SHUT_WR);
		gnutls_deinit(t->session);
	}
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	if (t->tcp != -1)
		close(t->tcp);
	if (t->local != -1)
		close(t->local);
	free(t);
}

/* TCP to host:port, each address in turn, each within timeout_ms. */
static int
tcp_connect(const char *host, unsigned port, unsigned timeout_ms, char *err,
    size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char service[8];
	int fd = -1, rc;

	snprintf(service, sizeof(service), "%u", port);
	if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		struct pollfd p;
		int so = 0;
		socklen_t len = sizeof(so);

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			so = 0;
		else if (errno != EINPROGRESS)
			so = errno;
		else {
			p.fd = fd;
			p.events = POLLOUT;
			rc = poll(&p, 1, (int)timeout_ms);
			if (rc == 0)
				so = ETIMEDOUT;
			else if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR,
			    &so, &len) != 0)
				so = errno;
		}
		if (so != 0) {
			snprintf(err, errlen, "%s:%u: %s", host, port,
			    strerror(so));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd != -1)
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static bool
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* The session's socket is non-blocking: wait until it can go on, as
 * GnuTLS says (reading or writing); false when the peer is gone. */
static bool
tls_wait(struct tunnel *t)
{
	struct pollfd p = { .fd = t->tcp };

	p.events = gnutls_record_get_direction(t->session) ? POLLOUT : POLLIN;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return false;
	return (p.revents & (POLLERR | POLLNVAL)) == 0;
}

static bool
tls_send_all(struct tunnel *t, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = gnutls_record_send(t->session, p, n);

		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED) {
			if (!tls_wait(t))
				return false;
			continue;
		}
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Bytes both ways until either side ends; then everything is closed
 * (hiredis sees the end of file). The TCP socket is non-blocking and
 * kept alive by the kernel, so a record cut short by a peer that is gone
 * never holds the thread: keepalive ends the connection. The buffer held
 * AUTH's password and the HMAC key in clear: guarded, wiped when freed. */
static void *
pump(void *arg)
{
	struct tunnel *t = arg;
	char *buf = sodium_malloc(PUMP_BUF);

	while (buf != NULL) {
		struct pollfd p[2] = {
			{ .fd = t->tcp, .events = POLLIN },
			{ .fd = t->local, .events = POLLIN },
		};
		ssize_t n;

		if (gnutls_record_check_pending(t->session) == 0 &&
		    poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (gnutls_record_check_pending(t->session) > 0 ||
		    (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = gnutls_record_recv(t->session, buf, PUMP_BUF);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;	/* the rest of the record: poll */
			if (n <= 0 || !write_all(t->local, buf, (size_t)n))
				break;
			continue;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(t->local, buf, PUMP_BUF);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || !tls_send_all(t, buf, (size_t)n))
				break;
		}
	}
	if (buf != NULL)
		sodium_free(buf);
	tunnel_free(t);
	return NULL;
}

/* The kernel ends a connection whose peer went silent: probes after
 * KEEP_IDLE s, and unacknowledged data after KEEP_USER_MS. */
#define KEEP_IDLE	15
#define KEEP_INTVL	5
#define KEEP_CNT	3
#define KEEP_USER_MS	30000

static void
keep_alive(int fd)
{
	int on = 1, idle = KEEP_IDLE, intvl = KEEP_INTVL, cnt = KEEP_CNT;
	unsigned user = KEEP_USER_MS;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user,
	    sizeof(user));
}

int
redistls_open(const char *host, unsigned port, const char *ca_file,
    unsigned timeout_ms, char *err, size_t errlen)
{
	struct tunnel *t = xcalloc(1, sizeof(*t));
	struct timeval tv = { (time_t)(timeout_ms / 1000),
	    (suseconds_t)(timeout_ms % 1000) * 1000 }, none = { 0, 0 };
	int pair[2], rc;
	unsigned status;
	pthread_t th;
	pthread_attr_t attr;
	sigset_t all, old;

	t->tcp = t->local = -1;
	if ((t->tcp = tcp_connect(host, port, timeout_ms, err, errlen)) == -1)
		goto fail;
	/* The handshake within the same time: the socket's own timeouts. */
	(void)setsockopt(t->tcp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(t->tcp, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((rc = gnutls_certificate_allocate_credentials(&t->cred)) < 0 ||
	    (rc = ca_file != NULL ?
	    gnutls_certificate_set_x509_trust_file(t->cred, ca_file,
	    GNUTLS_X509_FMT_PEM) :
	    gnutls_certificate_set_x509_system_trust(t->cred)) <= 0) {
		if (rc == 0)
			snprintf(err, errlen, "TLS: no CA certificate in %s",
			    ca_file != NULL ? ca_file : "the system's store");
		else
			snprintf(err, errlen, "TLS: %s: %s", ca_file != NULL ?
			    ca_file : "the system's store", gnutls_strerror(rc));
		goto fail;
	}
	if ((rc = gnutls_init(&t->session, GNUTLS_CLIENT)) < 0 ||
	    (rc = gnutls_set_default_priority(t->session)) < 0 ||
	    (rc = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE,
	    t->cred)) < 0) {
		snprintf(err, errlen, "TLS: %s", gnutls_strerror(rc));
		goto fail;
	}
	/* The name, for SNI and the certificate check (not for an address). */
	if (strchr(host, ':') == NULL && strspn(host, "0123456789.") !=
	    strlen(host))
		(void)gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, host,
		    strlen(host));
	gnutls_session_set_verify_cert(t->session, host, 0);
	gnutls_handshake_set_timeout(t->session, timeout_ms);
	gnutls_transport_set_int(t->session, t->tcp);
	do {
		rc = gnutls_handshake(t->session);
	} while (rc == GNUTLS_E_INTERRUPTED);
	if (rc < 0) {
		if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
			gnutls_datum_t why;

			status = gnutls_session_get_verify_cert_status(t->session);
			if (gnutls_certificate_verification_status_print(status,
			    GNUTLS_CRT_X509, &why, 0) == 0) {
				snprintf(err, errlen, "TLS: the certificate of "
				    "%s is refused: %s", host, why.data);
				gnutls_free(why.data);
				goto fail;
			}
		}
		snprintf(err, errlen, "TLS handshake with %s:%u: %s", host, port,
		    gnutls_strerror(rc));
		goto fail;
	}
	(void)setsockopt(t->tcp, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	(void)setsockopt(t->tcp, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none));
	(void)fcntl(t->tcp, F_SETFL, fcntl(t->tcp, F_GETFL) | O_NONBLOCK);
	keep_alive(t->tcp);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		goto fail;
	}
	t->local = pair[1];
	/* The thread takes no signal: the daemon's are the loop's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &attr, pump, t);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot start the TLS thread: %s",
		    strerror(rc));
		close(pair[0]);
		goto fail;
	}
	return pair[0];
fail:
	tunnel_free(t);
	return -1;
}
