/*
 * tlslib.c — dlopen() of GnuTLS on first use (see tlslib.h for why).
 *
 * The soname is the one the build found (TLSLIB_SONAME from the Makefile),
 * so the library loaded is the one the headers described. RTLD_NOW: a
 * missing symbol is found here, once, not in the middle of a handshake.
 * The handle is never closed: GnuTLS keeps global state for the process.
 */
#define TLSLIB_NO_REDIRECT
#include "tlslib.h"

#include <dlfcn.h>
#include <stdio.h>

#ifndef TLSLIB_SONAME
#define TLSLIB_SONAME "libgnutls.so.30"
#endif

struct tlslib_symbols tlslib_sym;

static int tlslib_state;             /* 0: not tried, 1: loaded, -1: failed */
static char tlslib_error[256];

static int
tlslib_resolve(void *h)
{
#define TLSLIB_RESOLVE(name) \
	if (!(tlslib_sym.name = (__typeof__(name) *)dlsym(h, #name))) { \
		snprintf(tlslib_error, sizeof tlslib_error, "%s: no symbol %s", \
		    TLSLIB_SONAME, #name); \
		return -1; \
	}
	TLSLIB_SYMBOLS(TLSLIB_RESOLVE)
#undef TLSLIB_RESOLVE
	return 0;
}

int
tlslib_load(char *err, size_t errsize)
{
	if (tlslib_state == 0) {
		void *h = dlopen(TLSLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			const char *e = dlerror();
			snprintf(tlslib_error, sizeof tlslib_error, "cannot load GnuTLS: %s",
			    e ? e : TLSLIB_SONAME);
			tlslib_state = -1;
		} else
			tlslib_state = tlslib_resolve(h) == 0 ? 1 : -1;
	}
	if (tlslib_state < 0) {
		snprintf(err, errsize, "%s", tlslib_error);
		return -1;
	}
	return 0;
}

int
tlslib_loaded(void)
{
	return tlslib_state > 0;
}
