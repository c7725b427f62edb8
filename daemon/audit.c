/*
 * audit.c - the audit line of an answered request (see audit.h).
 */
#include "build.h"

#include <stdio.h>
#include <string.h>

#include <unictype.h>

#include "common/log.h"
#include "common/utf8.h"
#include "daemon/audit.h"
#include "daemon/job.h"
#include "daemon/request.h"

/*
 * Text for the audit line: as it is when it is plain (ASCII letters,
 * digits and ._@-,=); otherwise in double quotes, with every character
 * that a reader could not see or tell apart (white space other than a
 * plain space, no-break and zero-width characters, anything not printable,
 * '"' and '<') written as <U+XXXX>, so "alice " and "alice<U+00A0>" cannot
 * be mistaken for alice. Letters of any script stay as they are.
 */
static void
audit_text(char *out, size_t size, const char *s)
{
	size_t o = 0, len = strlen(s), i = 0;
	bool plain = len > 0;

	for (const char *p = s; *p != '\0' && plain; p++)
		plain = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || strchr("._@-,=", *p) != NULL;
	if (plain || size < 16) {
		snprintf(out, size, "%s", plain ? s : "-");
		return;
	}
	out[o++] = '"';
	while (i < len && o + 12 < size) {
		uint32_t c;
		size_t k = utf8_decode((const unsigned char *)s + i, len - i, &c);

		if (k == 0) {		/* request.c lets only UTF-8 through */
			o += (size_t)snprintf(out + o, size - o, "<%02X>",
			    (unsigned char)s[i]);
			i++;
			continue;
		}
		if (c == '"' || c == '<' || (c != ' ' && (!uc_is_print(c) ||
		    uc_is_property_white_space(c) ||
		    uc_is_general_category(c, UC_CATEGORY_Cf))))
			o += (size_t)snprintf(out + o, size - o, "<U+%04X>", c);
		else {
			memcpy(out + o, s + i, k);
			o += k;
		}
		i += k;
	}
	out[o++] = '"';
	out[o] = '\0';
}

void
audit_log(const struct job *job)
{
	const struct request *r = &job->req;
	const char *user = job->parsed && r->user ? r->user :
	    job->have_ticket && job->t.user ? job->t.user : "-";
	const char *acct = job->who.dn ? job->who.dn :
	    job->have_ticket && job->t.dn ? job->t.dn : "-";
	char u[1100], a[1100];

	audit_text(u, sizeof(u), user);
	audit_text(a, sizeof(a), acct);
	log_info("request id=%s op=%s user=%s account=%s result=%s reason=%s "
	    "client=%s%s%s%s", job->sreq->id,
	    job->parsed ? request_op_name(r->op) : "-", u, a, job->result,
	    job->reason ? job->reason : "-",
	    job->parsed && r->client ? r->client : "-",
	    job->truth ? " (" : "", job->truth ? job->truth : "",
	    job->truth ? ")" : "");
}
