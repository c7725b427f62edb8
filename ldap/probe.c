/*
 * probe.c - walk one server through the steps the pool takes to open a
 * connection, and say how far it got (ssprctl test-bind).
 *
 * The steps are the daemon's own: after resolving the host name, probe.c
 * calls session_open(), so a server passes here exactly when the pool could
 * use it, with the same certificate checks, bind and root DSE reading.
 *
 * When the verified TLS handshake fails, libldap's message says little (with
 * GnuTLS, often just "(unknown error code)"). probe.c then opens a second
 * connection to the same URI with certificate verification turned off, only
 * to read the certificate the server presents, and closes it at once: that
 * connection never binds and carries nothing but the handshake, the StartTLS
 * request for ldap:// and the closing unbind, so no credential is ever sent
 * to a server that failed verification. The certificate is decoded with
 * liblber and named with ldap_X509dn2bv(): no TLS library is called
 * directly, so this works whichever one libldap uses.
 *
 * The verdict is one of: expired, not yet valid, name mismatch (the name
 * libldap checks is not among the certificate's names), unknown CA (no
 * certificate in ca_file is named like the issuer), or "looks valid" when
 * none of these explains the failure; always with the certificate's subject,
 * issuer, validity and names, and libldap's own message. It explains a
 * failure libldap has already decided; it never decides trust itself.
 */
#include "build.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#include "common/xalloc.h"
#include "ldap/dirint.h"

#define CERT_MAX_NAMES 16
#define CA_FILE_MAX (8 * 1024 * 1024)

#define TAG_SEQUENCE 0x30UL
#define TAG_UTCTIME 0x17UL
#define TAG_GENTIME 0x18UL
#define TAG_VERSION 0xa0UL		/* [0] EXPLICIT, tbsCertificate */
#define TAG_EXTENSIONS 0xa3UL		/* [3] EXPLICIT, tbsCertificate */
#define TAG_SAN_DNS 0x82UL		/* GeneralName dNSName [2] */
#define TAG_SAN_IP 0x87UL		/* GeneralName iPAddress [7] */
#define TAG_BOOLEAN 0x01UL

/* 2.5.29.17, subjectAltName, as the contents of its DER OBJECT IDENTIFIER */
static const unsigned char OID_SAN[] = { 0x55, 0x1d, 0x11 };

struct probe {
	dir_probe_fn *report;
	void *arg;
	bool tls_failed;	/* "connect" or "starttls" failed */
	char why[256];		/* ... with this detail */
};

/* One name the certificate is valid for. */
struct cert_name {
	bool ip;
	unsigned char addr[16];
	size_t addr_len;
	char text[128];		/* "DNS:host" or "IP:address" */
};

/* What probe.c needs from an X.509 certificate. The bervals point into
 * ber's buffer. */
struct cert {
	BerElement *ber;
	struct berval issuer;	/* DER Name, tag included */
	struct berval subject;
	time_t not_before, not_after;
	struct cert_name names[CERT_MAX_NAMES];
	size_t n_names;
	size_t n_dropped;	/* names beyond CERT_MAX_NAMES */
};

static void
say(struct probe *p, const char *step, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
say(struct probe *p, const char *step, bool ok, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	p->report(p->arg, step, ok, buf);
}

/* session_open()'s steps go straight to the caller; a failed handshake is
 * remembered so that the certificate can be looked at afterwards. */
static void
on_session_step(void *arg, const char *step, bool ok, const char *detail)
{
	struct probe *p = arg;

	if (!ok && (strcmp(step, "connect") == 0 ||
	    strcmp(step, "starttls") == 0)) {
		p->tls_failed = true;
		snprintf(p->why, sizeof(p->why), "%s", detail);
	}
	p->report(p->arg, step, ok, detail);
}

/* --- resolving ----------------------------------------------------------- */

static int
resolve(struct probe *p, const LDAPURLDesc *lud)
{
	/* Every address the name has, as libldap will try them in turn. */
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	char port[16], list[512] = "", host[NI_MAXHOST];
	size_t used = 0;
	int rc;

	if (strcasecmp(lud->lud_scheme, "ldapi") == 0) {
		/* libldap has already percent-decoded the path. */
		if (lud->lud_host == NULL || *lud->lud_host == '\0')
			say(p, "resolve", true, "local socket (libldap's default "
			    "path)");
		else
			say(p, "resolve", true, "local socket %s", lud->lud_host);
		return 0;
	}
	if (lud->lud_host == NULL || *lud->lud_host == '\0') {
		say(p, "resolve", false, "the URI names no host");
		return -1;
	}
	snprintf(port, sizeof(port), "%d", lud->lud_port);
	if ((rc = getaddrinfo(lud->lud_host, port, &hints, &res)) != 0) {
		say(p, "resolve", false, "%s: %s", lud->lud_host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host),
		    NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		rc = snprintf(list + used, sizeof(list) - used, "%s%s",
		    used ? ", " : "", host);
		if (rc < 0 || (size_t)rc >= sizeof(list) - used)
			break;
		used += (size_t)rc;
	}
	freeaddrinfo(res);
	say(p, "resolve", true, "%s -> %s, port %s", lud->lud_host,
	    *list ? list : "?", port);
	return 0;
}

/* --- reading a certificate ----------------------------------------------- */

/* UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), as DER
 * requires them: UTC, with seconds, no fractions. */
static int
parse_time(ber_tag_t tag, const struct berval *bv, time_t *out)
{
	struct tm tm = { 0 };
	int f[7], nf, i, pos = 0, year;

	nf = tag == TAG_UTCTIME ? 6 : 7;
	if (bv->bv_len != (size_t)(nf * 2 + 1) ||
	    bv->bv_val[bv->bv_len - 1] != 'Z')
		return -1;
	for (i = 0; i < nf; i++, pos += 2) {
		char a = bv->bv_val[pos], b = bv->bv_val[pos + 1];

		if (a < '0' || a > '9' || b < '0' || b > '9')
			return -1;
		f[i] = (a - '0') * 10 + (b - '0');
	}
	if (tag == TAG_UTCTIME) {
		/* RFC 5280: YY >= 50 is 19YY, below is 20YY. */
		year = f[0] >= 50 ? 1900 + f[0] : 2000 + f[0];
		i = 1;
	} else {
		year = f[0] * 100 + f[1];
		i = 2;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = f[i] - 1;
	tm.tm_mday = f[i + 1];
	tm.tm_hour = f[i + 2];
	tm.tm_min = f[i + 3];
	tm.tm_sec = f[i + 4];
	*out = timegm(&tm);
	return 0;
}

static void
add_name(struct cert *c, bool ip, const struct berval *v)
{
	struct cert_name *n;
	char addr[INET6_ADDRSTRLEN];

	if (c->n_names == CERT_MAX_NAMES) {
		c->n_dropped++;
		return;
	}
	n = &c->names[c->n_names];
	n->ip = ip;
	if (ip) {
		if (v->bv_len != 4 && v->bv_len != 16)
			return;
		memcpy(n->addr, v->bv_val, v->bv_len);
		n->addr_len = v->bv_len;
		inet_ntop(v->bv_len == 4 ? AF_INET : AF_INET6, n->addr, addr,
		    sizeof(addr));
		snprintf(n->text, sizeof(n->text), "IP:%s", addr);
	} else {
		/* An IA5String; anything odd in it is shown, not trusted. */
		size_t i, len = v->bv_len < sizeof(n->text) - 5 ?
		    v->bv_len : sizeof(n->text) - 5;

		memcpy(n->text, "DNS:", 4);
		for (i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)v->bv_val[i];

			n->text[4 + i] = (ch < 0x20 || ch >= 0x7f) ? '?' :
			    (char)ch;
		}
		n->text[4 + len] = '\0';
	}
	c->n_names++;
}

/* subjectAltName's value: GeneralNames ::= SEQUENCE OF GeneralName. Only
 * dNSName and iPAddress matter for a server's identity. */
static int
parse_san(struct cert *c, struct berval *value)
{
	BerElement *ber = ber_init(value);
	ber_tag_t tag;
	ber_len_t len;
	char *last;
	struct berval v;
	int rc = 0;

	if (ber == NULL)
		return -1;
	for (tag = ber_first_element(ber, &len, &last); tag != LBER_DEFAULT;
	    tag = ber_next_element(ber, &len, last)) {
		if (ber_skip_element(ber, &v) == LBER_DEFAULT) {
			rc = -1;
			break;
		}
		if (tag == TAG_SAN_DNS || tag == TAG_SAN_IP)
			add_name(c, tag == TAG_SAN_IP, &v);
	}
	ber_free(ber, 1);
	return rc;
}

/* Extensions ::= SEQUENCE OF SEQUENCE { extnID, critical DEFAULT FALSE,
 * extnValue OCTET STRING }, inside tbsCertificate's [3]. */
static int
parse_extensions(struct cert *c, BerElement *ber)
{
	ber_tag_t tag;
	ber_len_t len;
	char *last;
	struct berval oid, value;

	if (ber_skip_tag(ber, &len) != TAG_EXTENSIONS)
		return -1;
	for (tag = ber_first_element(ber, &len, &last); tag != LBER_DEFAULT;
	    tag = ber_next_element(ber, &len, last)) {
		if (tag != TAG_SEQUENCE || ber_skip_tag(ber, &len) == LBER_DEFAULT ||
		    ber_get_stringbv(ber, &oid, LBER_BV_NOTERM) == LBER_DEFAULT)
			return -1;
		if (ber_peek_tag(ber, &len) == TAG_BOOLEAN &&
		    ber_skip_element(ber, &value) == LBER_DEFAULT)
			return -1;
		if (ber_get_stringbv(ber, &value, LBER_BV_NOTERM) == LBER_DEFAULT)
			return -1;
		if (oid.bv_len == sizeof(OID_SAN) &&
		    memcmp(oid.bv_val, OID_SAN, sizeof(OID_SAN)) == 0 &&
		    parse_san(c, &value) != 0)
			return -1;
	}
	return 0;
}

static void
cert_free(struct cert *c)
{
	if (c->ber != NULL)
		ber_free(c->ber, 1);
	memset(c, 0, sizeof(*c));
}

/*
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
 * tbsCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber,
 *     signature, issuer, validity, subject, subjectPublicKeyInfo,
 *     [1] [2] unique ids OPTIONAL, [3] extensions OPTIONAL }
 * Only the fields probe.c reports are kept; the others are stepped over.
 */
static int
cert_parse(struct berval *der, struct cert *c)
{
	BerElement *ber;
	ber_tag_t tag;
	ber_len_t len;
	char *tbs_end;
	struct berval skip, t;

	memset(c, 0, sizeof(*c));
	if ((c->ber = ber = ber_init(der)) == NULL)
		return -1;
	if (ber_skip_tag(ber, &len) != TAG_SEQUENCE)
		goto bad;
	if (ber_first_element(ber, &len, &tbs_end) == LBER_DEFAULT)
		goto bad;
	if (ber_peek_tag(ber, &len) == TAG_VERSION &&
	    ber_skip_element(ber, &skip) == LBER_DEFAULT)
		goto bad;
	if (ber_skip_element(ber, &skip) == LBER_DEFAULT ||	/* serial */
	    ber_skip_element(ber, &skip) == LBER_DEFAULT ||	/* algorithm */
	    ber_skip_raw(ber, &c->issuer) != TAG_SEQUENCE)
		goto bad;
	if (ber_skip_tag(ber, &len) != TAG_SEQUENCE)		/* validity */
		goto bad;
	tag = ber_get_stringbv(ber, &t, LBER_BV_NOTERM);
	if ((tag != TAG_UTCTIME && tag != TAG_GENTIME) ||
	    parse_time(tag, &t, &c->not_before) != 0)
		goto bad;
	tag = ber_get_stringbv(ber, &t, LBER_BV_NOTERM);
	if ((tag != TAG_UTCTIME && tag != TAG_GENTIME) ||
	    parse_time(tag, &t, &c->not_after) != 0)
		goto bad;
	if (ber_skip_raw(ber, &c->subject) != TAG_SEQUENCE ||
	    ber_skip_element(ber, &skip) == LBER_DEFAULT)	/* public key */
		goto bad;
	for (tag = ber_next_element(ber, &len, tbs_end); tag != LBER_DEFAULT;
	    tag = ber_next_element(ber, &len, tbs_end)) {
		if (tag == TAG_EXTENSIONS) {
			if (parse_extensions(c, ber) != 0)
				goto bad;
		} else if (ber_skip_element(ber, &skip) == LBER_DEFAULT) {
			goto bad;
		}
	}
	return 0;
bad:
	cert_free(c);
	return -1;
}

/* A DER Name as an LDAP string ("cn=ssprd test CA"). */
static void
name_string(struct berval *name, char *out, size_t size)
{
	struct berval dn = { 0, NULL };

	if (ldap_X509dn2bv(name, &dn, NULL, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS || dn.bv_val == NULL) {
		snprintf(out, size, "(undecodable name)");
		return;
	}
	snprintf(out, size, "%s", *dn.bv_val ? dn.bv_val : "(empty)");
	ldap_memfree(dn.bv_val);
}

/* The most specific CN of a Name, for certificates without names in a
 * subjectAltName (clients then fall back to the CN). */
static bool
name_cn(struct berval *name, char *out, size_t size)
{
	struct berval str = { 0, NULL };
	LDAPDN dn = NULL;
	bool found = false;

	if (ldap_X509dn2bv(name, &str, NULL, LDAP_DN_FORMAT_LDAPV3) !=
	    LDAP_SUCCESS || str.bv_val == NULL)
		return false;
	if (ldap_str2dn(str.bv_val, &dn, LDAP_DN_FORMAT_LDAPV3) == LDAP_SUCCESS &&
	    dn != NULL) {
		for (size_t i = 0; dn[i] != NULL && !found; i++)
			for (size_t j = 0; dn[i][j] != NULL && !found; j++) {
				LDAPAVA *ava = dn[i][j];

				if (ava->la_attr.bv_len == 2 &&
				    strncasecmp(ava->la_attr.bv_val, "CN", 2) == 0) {
					snprintf(out, size, "%.*s",
					    (int)ava->la_value.bv_len,
					    ava->la_value.bv_val);
					found = true;
				}
			}
		ldap_dnfree(dn);
	}
	ldap_memfree(str.bv_val);
	return found;
}

/* One DNS name against a pattern: exact (case-insensitive), or "*.rest"
 * standing for exactly one leftmost label. */
static bool
dns_match(const char *pattern, const char *host)
{
	const char *dot;

	if (strcasecmp(pattern, host) == 0)
		return true;
	if (strncmp(pattern, "*.", 2) != 0)
		return false;
	dot = strchr(host, '.');
	return dot != NULL && dot != host && strcasecmp(dot + 1, pattern + 2) == 0;
}

/* Is host (the name libldap checks) one of the certificate's names? */
static bool
host_matches(struct cert *c, const char *host)
{
	unsigned char addr[16];
	size_t alen = 0;
	char cn[256];

	if (inet_pton(AF_INET, host, addr) == 1)
		alen = 4;
	else if (inet_pton(AF_INET6, host, addr) == 1)
		alen = 16;
	for (size_t i = 0; i < c->n_names; i++) {
		struct cert_name *n = &c->names[i];

		if (n->ip && alen != 0 && n->addr_len == alen &&
		    memcmp(n->addr, addr, alen) == 0)
			return true;
		if (!n->ip && alen == 0 && dns_match(n->text + 4, host))
			return true;
	}
	if (c->n_names > 0 || c->n_dropped > 0)
		return false;
	return name_cn(&c->subject, cn, sizeof(cn)) && dns_match(cn, host);
}

/*
 * The name libldap checks the certificate against. It is the URI's host,
 * except that libldap replaces "localhost" (or no host) with this machine's
 * own fully qualified name, which a certificate made for "localhost" does
 * not carry. Returns true when the name was replaced.
 */
static bool
checked_name(const char *host, char *out, size_t size)
{
	struct addrinfo hints = { .ai_flags = AI_CANONNAME };
	struct addrinfo *res = NULL;
	char self[256];

	snprintf(out, size, "%s", host);
	if (*host != '\0' && strcasecmp(host, "localhost") != 0)
		return false;
	if (gethostname(self, sizeof(self)) != 0)
		return false;
	self[sizeof(self) - 1] = '\0';
	if (getaddrinfo(self, NULL, &hints, &res) == 0 && res != NULL &&
	    res->ai_canonname != NULL)
		snprintf(out, size, "%s", res->ai_canonname);
	else
		snprintf(out, size, "%s", self);
	if (res != NULL)
		freeaddrinfo(res);
	return true;
}

/* --- the CA file --------------------------------------------------------- */

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode base64 from s to e into out (at least (e - s) * 3 / 4 bytes);
 * white space and padding are skipped. Returns the length. */
static size_t
b64_decode(const char *s, const char *e, unsigned char *out)
{
	unsigned acc = 0, bits = 0;
	size_t n = 0;

	for (; s < e; s++) {
		int v = b64_value((unsigned char)*s);

		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	return n;
}

static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = xmalloc(CA_FILE_MAX + 1);
	n = fread(buf, 1, CA_FILE_MAX, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

enum issuer_trust { ISSUER_UNKNOWN_FILE, ISSUER_IN_FILE, ISSUER_NOT_IN_FILE };

/* Is one of the CA file's certificates named like the issuer? (Names are
 * compared, not signatures: this explains a failure that libldap has already
 * established, it decides nothing.) */
static enum issuer_trust
issuer_in_ca_file(const char *path, struct cert *c, char *issuer_str)
{
	static const char begin[] = "-----BEGIN CERTIFICATE-----";
	static const char end[] = "-----END CERTIFICATE-----";
	enum issuer_trust verdict = ISSUER_NOT_IN_FILE;
	char *text = read_file(path), *s, *e = NULL, name[512];

	if (text == NULL)
		return ISSUER_UNKNOWN_FILE;
	for (s = strstr(text, begin); s != NULL && verdict == ISSUER_NOT_IN_FILE;
	    s = strstr(e, begin)) {
		unsigned char *der;
		struct berval bv;
		struct cert ca;

		s += sizeof(begin) - 1;
		if ((e = strstr(s, end)) == NULL)
			break;
		der = xmalloc((size_t)(e - s));
		bv.bv_val = (char *)der;
		bv.bv_len = b64_decode(s, e, der);
		if (cert_parse(&bv, &ca) == 0) {
			if (ca.subject.bv_len == c->issuer.bv_len &&
			    memcmp(ca.subject.bv_val, c->issuer.bv_val,
			    c->issuer.bv_len) == 0)
				verdict = ISSUER_IN_FILE;
			else {
				/* The same name may be encoded differently
				 * (PrintableString vs UTF8String). */
				name_string(&ca.subject, name, sizeof(name));
				if (strcasecmp(name, issuer_str) == 0)
					verdict = ISSUER_IN_FILE;
			}
			cert_free(&ca);
		}
		free(der);
	}
	free(text);
	return verdict;
}

/* --- the diagnosis ------------------------------------------------------- */

static void
fmt_time(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, size, "?");
}

/*
 * Fetch the server's certificate over a connection that does not verify it;
 * returns an LDAP code (LDAP_SERVER_DOWN: no connection at all).
 * This handle NEVER binds: it exists only to read the certificate. Besides
 * the handshake it carries at most the StartTLS request (ldap://) and the
 * unbind that closes it straight away; no credential goes over it, since the
 * server it talks to has just failed verification.
 */
static int
fetch_certificate(const struct session_cfg *sc, const char *uri, bool starttls,
    struct berval *der, char *err, size_t errsize)
{
	struct timeval tv = { .tv_sec = sc->timeout };
	struct berval peer = { 0, NULL };
	int v3 = LDAP_VERSION3, never = LDAP_OPT_X_TLS_NEVER, zero = 0, rc;
	LDAP *ld = NULL;
	char *diag = NULL;

	if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS) {
		snprintf(err, errsize, "%s", ldap_err2string(rc));
		return rc;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &never) ||
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero)) {
		snprintf(err, errsize, "cannot set up an unverified handshake");
		rc = LDAP_LOCAL_ERROR;
		goto out;
	}
	rc = ldap_connect(ld);
	if (rc == LDAP_SUCCESS && starttls)
		rc = ldap_start_tls_s(ld, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
		snprintf(err, errsize, "%s", diag != NULL && *diag ? diag :
		    ldap_err2string(rc));
		goto out;
	}
	/* libldap fills a struct berval, whose bv_val it allocates. */
	if (ldap_get_option(ld, LDAP_OPT_X_TLS_PEERCERT, &peer) !=
	    LDAP_OPT_SUCCESS || peer.bv_val == NULL || peer.bv_len == 0) {
		snprintf(err, errsize, "the server presented no certificate");
		rc = LDAP_OTHER;
		goto out;
	}
	der->bv_len = peer.bv_len;
	der->bv_val = xmalloc(peer.bv_len);
	memcpy(der->bv_val, peer.bv_val, peer.bv_len);
	rc = LDAP_SUCCESS;
out:
	ldap_memfree(diag);
	ber_memfree(peer.bv_val);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

static void
diagnose(struct probe *p, const struct session_cfg *sc, const char *uri,
    const LDAPURLDesc *lud)
{
	struct berval der = { 0, NULL };
	struct cert c;
	char err[256], subject[512], issuer[512], from[32], to[32];
	char names[512] = "", verdict[1024], host[256];
	bool starttls = strcasecmp(lud->lud_scheme, "ldap") == 0;
	bool name_ok, replaced;
	enum issuer_trust trust;
	time_t now = time(NULL);
	size_t used = 0;

	/* No TCP connection (refused, unreachable, timed out): there is no
	 * certificate to see, and trying again would only wait again. */
	if (strcmp(p->why, ldap_err2string(LDAP_SERVER_DOWN)) == 0)
		return;

	switch (fetch_certificate(sc, uri, starttls, &der, err, sizeof(err))) {
	case LDAP_SUCCESS:
		break;
	case LDAP_SERVER_DOWN:
		/* No TCP connection at all: the failed step said it. */
		return;
	default:
		say(p, "certificate", false, "not available even without "
		    "verification (%s): the failure is not the certificate's",
		    err);
		return;
	}
	if (cert_parse(&der, &c) != 0) {
		say(p, "certificate", false, "the server's certificate (%zu "
		    "bytes) cannot be decoded", (size_t)der.bv_len);
		free(der.bv_val);
		return;
	}
	name_string(&c.subject, subject, sizeof(subject));
	name_string(&c.issuer, issuer, sizeof(issuer));
	fmt_time(c.not_before, from, sizeof(from));
	fmt_time(c.not_after, to, sizeof(to));
	for (size_t i = 0; i < c.n_names; i++) {
		int n = snprintf(names + used, sizeof(names) - used, "%s%s",
		    i ? ", " : "", c.names[i].text);

		if (n < 0 || (size_t)n >= sizeof(names) - used)
			break;
		used += (size_t)n;
	}
	if (c.n_dropped > 0 && used < sizeof(names))
		snprintf(names + used, sizeof(names) - used, " and %zu more",
		    c.n_dropped);
	if (c.n_names == 0 && c.n_dropped == 0) {
		char cn[256];

		if (name_cn(&c.subject, cn, sizeof(cn)))
			snprintf(names, sizeof(names), "none in subjectAltName; "
			    "CN %s", cn);
		else
			snprintf(names, sizeof(names), "none");
	}

	replaced = checked_name(lud->lud_host ? lud->lud_host : "", host,
	    sizeof(host));
	name_ok = host_matches(&c, host);
	trust = issuer_in_ca_file(sc->ca_file, &c, issuer);
	/* Dates first: they condemn a certificate whatever else is true.
	 * When both the issuer and the name are wrong, both are said: behind
	 * an intermediate CA the issuer is rightly absent from ca_file, and
	 * the name is then the real cause. */
	if (now > c.not_after)
		snprintf(verdict, sizeof(verdict), "expired on %s", to);
	else if (now < c.not_before)
		snprintf(verdict, sizeof(verdict), "not yet valid (from %s)",
		    from);
	else if (trust == ISSUER_UNKNOWN_FILE)
		snprintf(verdict, sizeof(verdict), "unknown CA: %s cannot be "
		    "read%s%s", sc->ca_file,
		    name_ok ? "" : "; and the name does not match either: ",
		    name_ok ? "" : host);
	else if (!name_ok && trust == ISSUER_IN_FILE)
		snprintf(verdict, sizeof(verdict), "name mismatch: %s is not "
		    "among the certificate's names%s", host, replaced ?
		    " (libldap checks a \"localhost\" URI against this "
		    "machine's own name; use a name or address the certificate "
		    "has)" : "");
	else if (trust == ISSUER_NOT_IN_FILE)
		snprintf(verdict, sizeof(verdict), "unknown CA: the issuer is "
		    "not among the certificates of %s%s%s", sc->ca_file,
		    name_ok ? "" : "; and the name does not match either: ",
		    name_ok ? "" : host);
	else
		snprintf(verdict, sizeof(verdict), "the certificate looks valid "
		    "for %s and its issuer is in %s; the handshake failed for "
		    "another reason (TLS version, chain, key usage?)",
		    host, sc->ca_file);
	say(p, "certificate", false, "%s; subject=%s, issuer=%s, valid from %s "
	    "to %s, names: %s; libldap said: %s", verdict, subject, issuer, from,
	    to, names, *p->why ? p->why : "(nothing)");
	cert_free(&c);
	free(der.bv_val);
}

/* --- the probe ----------------------------------------------------------- */

int
dir_probe(const struct config *cfg, const char *uri,
    struct dir_server_info *info, dir_probe_fn *report, void *arg)
{
	struct probe p = { .report = report, .arg = arg };
	struct dir_server_info local;
	struct dir_result res;
	struct session_cfg *sc;
	LDAPURLDesc *lud = NULL;
	LDAP *ld;
	int rc = -1;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	if (ldap_url_parse(uri, &lud) != LDAP_URL_SUCCESS) {
		say(&p, "resolve", false, "not an LDAP URI");
		return -1;
	}
	if (resolve(&p, lud) != 0)
		goto out;

	sc = session_cfg_new(cfg);
	ld = session_open(sc, uri, SESSION_SERVICE, info, &res, on_session_step,
	    &p);
	if (ld != NULL) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		rc = 0;
	} else if (p.tls_failed && strcasecmp(lud->lud_scheme, "ldapi") != 0) {
		diagnose(&p, sc, uri, lud);
	}
	session_cfg_free(sc);
out:
	ldap_free_urldesc(lud);
	return rc;
}
