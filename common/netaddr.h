/*
 * netaddr.h - IP addresses as text: one spelling per address, one key per
 * network that a single client controls.
 *
 * A front end passes the caller's address as it got it, and the same
 * address has many spellings ("2001:db8::1", "2001:0db8:0:0::1",
 * "::ffff:192.0.2.1" for 192.0.2.1). Counters keyed on the text as sent
 * could be dodged by respelling it, and one IPv6 client usually holds a
 * whole /64 (SLAAC, privacy addresses), so a per-address limit on IPv6 is
 * no limit at all. netaddr_canonical() gives the one spelling (for logs and
 * notices); netaddr_group() the key a client is counted under.
 *
 * Neither function allocates or logs; both only read their input.
 */
#ifndef SSPRD_NETADDR_H
#define SSPRD_NETADDR_H

#include <stddef.h>

#include <netinet/in.h>

/* Buffer sizes that always fit: an address in canonical form, and a group
 * ("2001:db8:1:2::/64"), each with its NUL. */
#define NETADDR_MAX INET6_ADDRSTRLEN
#define NETADDR_GROUP_MAX (INET6_ADDRSTRLEN + 3)

/*
 * The canonical text of the IPv4 or IPv6 address in: IPv4 as a dotted quad,
 * an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it
 * maps, other IPv6 addresses in RFC 5952 form (lower case, zeros
 * compressed). Returns 0, or -1 when in is not an address (a name, a zone
 * such as "%eth0", a prefix length, surrounding blanks) or out is smaller
 * than NETADDR_MAX; out is then "".
 */
int netaddr_canonical(const char *in, char *out, size_t size);

/*
 * The key a client is counted under: an IPv4 address itself, for IPv6 its
 * /64 network in canonical form ("2001:db8::/64"). Any spelling is
 * accepted (it is made canonical first), but callers pass what
 * netaddr_canonical() gave. Text that is not an address is copied as it
 * is, cut to fit. size should be at least NETADDR_GROUP_MAX.
 */
void netaddr_group(const char *canonical, char *out, size_t size);

#endif
