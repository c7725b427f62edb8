/*
 * qr.c - an otpauth:// URI as a QR code an authenticator app can scan.
 *
 * libqrencode makes the symbol; it is drawn as one inline SVG path (one
 * square per dark module), which needs no image file, no data: URL and no
 * script, and so passes the page's Content-Security-Policy. The SVG is
 * sized by the style sheet and labelled for screen readers. The URI holds
 * the new secret: the symbol's buffer is wiped before it is released.
 */
#include "build.h"

#include <string.h>

#include <qrencode.h>
#include <sodium.h>

#include "web/web.h"

#define QUIET 4	/* modules of blank margin, as the standard asks */

int
qr_svg(struct evbuffer *out, const char *text, const char *label)
{
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	int x, y, size;

	if (qr == NULL)
		return -1;
	size = qr->width + 2 * QUIET;
	evbuffer_add_printf(out, "<svg class=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", size, size);
	html_escape(out, label);
	evbuffer_add_printf(out, "\" shape-rendering=\"crispEdges\">"
	    "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	    size, size);
	for (y = 0; y < qr->width; y++)
		for (x = 0; x < qr->width; x++)
			if (qr->data[y * qr->width + x] & 1)
				evbuffer_add_printf(out, "M%d %dh1v1h-1z", x + QUIET,
				    y + QUIET);
	evbuffer_add_printf(out, "\"/></svg>\n");
	sodium_memzero(qr->data, (size_t)qr->width * (size_t)qr->width);
	QRcode_free(qr);
	return 0;
}
