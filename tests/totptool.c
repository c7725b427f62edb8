/*
 * totptool - what ssprd's TOTP code makes, for a check by code that is not
 * ssprd's (tests/integration/totp.sh computes the codes with Python).
 *
 *   totptool ISSUER USER TIME...
 *
 * Prints the otpauth URI of a new random secret, then "TIME CODE" for each
 * TIME (Unix seconds), the code being totp_code() of that time's step.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>

#include <sodium.h>

#include "common/secret.h"
#include "daemon/totp.h"

int
main(int argc, char **argv)
{
	unsigned char *secret;
	char *uri;

	if (argc < 3) {
		fprintf(stderr, "usage: totptool ISSUER USER TIME...\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	secret = totp_new_secret();
	uri = totp_uri(argv[1], argv[2], secret);
	printf("%s\n", uri);
	for (int i = 3; i < argc; i++) {
		long long t = strtoll(argv[i], NULL, 10);

		printf("%lld %0*u\n", t, TOTP_DIGITS, (unsigned)totp_code(secret,
		    TOTP_SECRET_LEN, (uint64_t)totp_step(t, TOTP_PERIOD),
		    TOTP_DIGITS));
	}
	secret_free(uri);
	secret_free(secret);
	return 0;
}
