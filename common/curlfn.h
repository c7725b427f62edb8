/*
 * curlfn.h - libcurl, loaded the first time it is needed.
 *
 * Only sites that send mail by SMTP or SMS through a gateway use libcurl,
 * and libcurl brings a dozen libraries of its own (SSH, RTMP, Kerberos,
 * HTTP/2, IDN...): linked in, they cost every ssprd 4.4 MB of resident
 * memory at rest, over half again its size. So it is dlopen()ed
 * (CURL_SONAME, from the Debian package libcurl3-gnutls) when the
 * configuration names an smtp:// or https:// URL, and not otherwise. The
 * prototypes are libcurl's own, taken from its header with __typeof__.
 */
#ifndef SSPRD_CURLFN_H
#define SSPRD_CURLFN_H

#include <stddef.h>

#include <curl/curl.h>

struct curlfn {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_assign) *multi_assign;
	__typeof__(curl_multi_socket_action) *multi_socket_action;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_url) *url;
	__typeof__(curl_url_set) *url_set;
	__typeof__(curl_url_get) *url_get;
	__typeof__(curl_url_cleanup) *url_cleanup;
	__typeof__(curl_free) *free;
};

/* The functions, loaded and curl_global_init()ed on the first call (not
 * thread-safe: call it from one thread, as ssprd's loop and the
 * configuration loader do). NULL, with why in err, when libcurl cannot
 * be loaded; asked again, it tries again. */
const struct curlfn *curlfn_get(char *err, size_t size);

#endif
