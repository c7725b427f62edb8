/*
 * test_netaddr.c - one spelling per address, one key per client network:
 * respelling an address (zeros, case, IPv4-mapped) never yields a new key,
 * and the addresses of one IPv6 /64 share one.
 */
#include "build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/netaddr.h"

static void
canonical_is(const char *in, const char *want)
{
	char out[NETADDR_MAX];

	if (netaddr_canonical(in, out, sizeof(out)) != 0)
		fail_msg("\"%s\" refused", in);
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\": got \"%s\", want \"%s\"", in, out, want);
}

static void
refused(const char *in)
{
	char out[NETADDR_MAX];

	memset(out, 'Z', sizeof(out));
	if (netaddr_canonical(in, out, sizeof(out)) != -1)
		fail_msg("\"%s\" accepted as \"%s\"", in, out);
	assert_string_equal(out, "");
}

static void
group_is(const char *in, const char *want)
{
	char out[NETADDR_GROUP_MAX];

	netaddr_group(in, out, sizeof(out));
	if (strcmp(out, want) != 0)
		fail_msg("\"%s\": group \"%s\", want \"%s\"", in, out, want);
}

static void
test_canonical_ipv4(void **state)
{
	(void)state;
	canonical_is("192.0.2.1", "192.0.2.1");
	canonical_is("0.0.0.0", "0.0.0.0");
	canonical_is("255.255.255.255", "255.255.255.255");
	/* Mapped into IPv6: the same client. */
	canonical_is("::ffff:192.0.2.1", "192.0.2.1");
	canonical_is("::FFFF:192.0.2.1", "192.0.2.1");
	canonical_is("0:0:0:0:0:ffff:c000:0201", "192.0.2.1");
	canonical_is("::ffff:c000:201", "192.0.2.1");
}

static void
test_canonical_ipv6(void **state)
{
	(void)state;
	canonical_is("2001:db8::1", "2001:db8::1");
	canonical_is("2001:db8:0::1", "2001:db8::1");
	canonical_is("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
	canonical_is("2001:DB8::1", "2001:db8::1");
	canonical_is("2001:0db8:0000:0000:0000:ff00:0042:8329",
	    "2001:db8::ff00:42:8329");
	/* RFC 5952: the longest run of zeros, the first of equal runs, never
	 * a single zero group. */
	canonical_is("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
	canonical_is("2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
	canonical_is("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
	canonical_is("::1", "::1");
	canonical_is("::", "::");
	canonical_is("fe80::1", "fe80::1");
	canonical_is("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
}

static void
test_canonical_refused(void **state)
{
	char small[NETADDR_MAX - 1];

	(void)state;
	refused("");
	refused(NULL);
	refused("1.2.3");
	refused("1.2.3.256");
	refused("01.2.3.4");
	refused(" 1.2.3.4");
	refused("1.2.3.4 ");
	refused("1.2.3.4/24");
	refused("example.com");
	refused("fe80::1%eth0");
	refused("2001:db8::/64");
	refused("2001:db8:::1");
	refused("[2001:db8::1]");
	refused("2001:db8::g");
	/* Too small a buffer for every address: refused, never cut. */
	memset(small, 'Z', sizeof(small));
	assert_int_equal(netaddr_canonical("1.2.3.4", small, sizeof(small)),
	    -1);
	assert_string_equal(small, "");
}

static void
test_group(void **state)
{
	(void)state;
	group_is("192.0.2.1", "192.0.2.1");
	group_is("192.0.2.2", "192.0.2.2");
	group_is("::ffff:192.0.2.1", "192.0.2.1");
	group_is("2001:db8::1", "2001:db8::/64");
	group_is("2001:db8::2", "2001:db8::/64");
	group_is("2001:db8:0::1", "2001:db8::/64");
	group_is("2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64");
	group_is("2001:db8:0:1::1", "2001:db8:0:1::/64");
	group_is("2001:db8:1::1", "2001:db8:1::/64");
	group_is("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff",
	    "2001:db8:aaaa:bbbb::/64");
	group_is("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff::/64");
	group_is("::1", "::/64");
	group_is("fe80::1", "fe80::/64");
	/* Not an address: kept as it is. */
	group_is("unknown", "unknown");
}

static void
test_group_small_buffer(void **state)
{
	char out[8];

	(void)state;
	memset(out, 'Z', sizeof(out));
	netaddr_group("2001:db8::1", out, sizeof(out));
	assert_int_equal(strlen(out), sizeof(out) - 1);
	netaddr_group("2001:db8::1", out, 0);
	assert_int_equal(strlen(out), sizeof(out) - 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_ipv4),
		cmocka_unit_test(test_canonical_ipv6),
		cmocka_unit_test(test_canonical_refused),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_group_small_buffer),
	};

	return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
