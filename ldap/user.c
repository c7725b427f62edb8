/*
 * user.c - what a lookup hands over (dir.h's struct dir_user), freed; in
 * libssprd.a, so that code built without the directory layer (the engine's
 * unit tests and their fake directory) shares it.
 */
#include "build.h"

#include <stdlib.h>
#include <string.h>

#include "ldap/dir.h"

void
dir_user_clear(struct dir_user *u)
{
	free(u->dn);
	strlist_free(&u->mail);
	strlist_free(&u->mobile);
	free(u->questions);
	free(u->totp);
	strlist_free(&u->personal);
	free(u->account);
	free(u->display_name);
	free(u->policy_dn);
	memset(u, 0, sizeof(*u));
}
