/*
 * errmap.h - what a directory server's answer means (ldap/ internal).
 *
 * One function turns an LDAP result (result code or libldap API error, the
 * server's diagnostic message, the ppolicy response control's error) into a
 * struct dir_result: one of SPEC's reasons, policy violations, and whether a
 * write may have been applied. The server's own text is kept in
 * result->detail for the log; the caller shows only the stable reason.
 */
#ifndef SSPRD_ERRMAP_H
#define SSPRD_ERRMAP_H

#include <stdbool.h>

#include "config/config.h"
#include "ldap/dir.h"

enum dir_op_kind {
	DIR_OPK_BIND,		/* a bind (service account or user) */
	DIR_OPK_SEARCH,		/* a search or other read */
	DIR_OPK_RESET,		/* admin reset / unlock: no old password */
	DIR_OPK_CHANGE,		/* user change: old password supplied */
};

struct dir_answer {
	enum dir_type type;
	enum dir_op_kind kind;
	int ldap_rc;		/* LDAP result code, or a libldap API error
				 * (LDAP_SERVER_DOWN, LDAP_TIMEOUT, ...) */
	const char *message;	/* diagnostic message, or NULL */
	int ppolicy_error;	/* PP_* from the response control; -1: none */
	bool sent;		/* the request was written before it failed */
};

void dir_errmap(const struct dir_answer *a, struct dir_result *out);

#endif
