/*
 * curlfn.c - libcurl, loaded the first time it is needed (see curlfn.h).
 */
#include "build.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/curlfn.h"

#ifndef CURL_SONAME	/* configure defines it; a build.h of another origin may not */
#define CURL_SONAME "libcurl-gnutls.so.4"
#endif

static struct curlfn fns;
static bool loaded;

/* Each member of struct curlfn and libcurl's name for it, in order. */
static const char *const names[] = {
	"curl_global_init", "curl_multi_init", "curl_multi_setopt",
	"curl_multi_assign", "curl_multi_socket_action",
	"curl_multi_info_read", "curl_multi_add_handle",
	"curl_multi_remove_handle", "curl_multi_cleanup", "curl_easy_init",
	"curl_easy_setopt", "curl_easy_getinfo", "curl_easy_cleanup",
	"curl_easy_strerror", "curl_slist_append", "curl_slist_free_all",
	"curl_url", "curl_url_set", "curl_url_get", "curl_url_cleanup",
	"curl_free",
};

_Static_assert(sizeof(names) / sizeof(names[0]) ==
    sizeof(struct curlfn) / sizeof(void (*)(void)),
    "every member of struct curlfn has a name here");

const struct curlfn *
curlfn_get(char *err, size_t size)
{
	struct curlfn f;
	void (**slot)(void) = (void (**)(void))(void *)&f;
	void *h;

	if (loaded)
		return &fns;
	if ((h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, size, "cannot load libcurl (%s; Debian package "
		    "libcurl3-gnutls): %s", CURL_SONAME, dlerror());
		return NULL;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		*(void **)(void *)&slot[i] = dlsym(h, names[i]);
		if (slot[i] == NULL) {
			snprintf(err, size, "%s has no %s: libcurl is too old",
			    CURL_SONAME, names[i]);
			dlclose(h);
			return NULL;
		}
	}
	if (f.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, size, "libcurl cannot start");
		dlclose(h);
		return NULL;
	}
	fns = f;
	loaded = true;	/* and kept loaded: h is never closed */
	return &fns;
}
