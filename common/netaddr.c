/*
 * netaddr.c - canonical IP address text and per-client keys (see
 * netaddr.h).
 *
 * inet_pton() decides what an address is, inet_ntop() how it is written:
 * glibc's inet_ntop() already writes RFC 5952's form (lower case, no
 * leading zeros, the first longest run of two or more zero groups as
 * "::"), so every spelling of an address comes out as one text. The only
 * rewriting done here is the IPv4-mapped range: the same client reaches a
 * dual-stack front end as 192.0.2.1 or as ::ffff:192.0.2.1.
 */
#include "build.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "common/netaddr.h"

#define IPV6_GROUP_BYTES 8	/* a /64: the network a client usually holds */

int
netaddr_canonical(const char *in, char *out, size_t size)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (size == 0)
		return -1;
	out[0] = '\0';
	if (in == NULL || size < NETADDR_MAX)
		return -1;
	if (inet_pton(AF_INET, in, &v4) == 1)
		return inet_ntop(AF_INET, &v4, out, (socklen_t)size) != NULL ?
		    0 : -1;
	if (inet_pton(AF_INET6, in, &v6) != 1)
		return -1;
	if (IN6_IS_ADDR_V4MAPPED(&v6)) {
		memcpy(&v4, &v6.s6_addr[12], sizeof(v4));
		return inet_ntop(AF_INET, &v4, out, (socklen_t)size) != NULL ?
		    0 : -1;
	}
	return inet_ntop(AF_INET6, &v6, out, (socklen_t)size) != NULL ? 0 : -1;
}

void
netaddr_group(const char *canonical, char *out, size_t size)
{
	char addr[NETADDR_MAX], net[NETADDR_MAX];
	struct in6_addr v6;

	if (size == 0)
		return;
	if (netaddr_canonical(canonical, addr, sizeof(addr)) != 0) {
		snprintf(out, size, "%s", canonical != NULL ? canonical : "");
		return;
	}
	if (inet_pton(AF_INET6, addr, &v6) != 1) {
		/* IPv4 (mapped ones included, by now): the address itself. */
		snprintf(out, size, "%s", addr);
		return;
	}
	memset(&v6.s6_addr[16 - IPV6_GROUP_BYTES], 0, IPV6_GROUP_BYTES);
	if (inet_ntop(AF_INET6, &v6, net, sizeof(net)) == NULL) {
		/* Cannot happen with a buffer of INET6_ADDRSTRLEN. */
		snprintf(out, size, "%s", addr);
		return;
	}
	snprintf(out, size, "%s/%d", net, IPV6_GROUP_BYTES * 8);
}
