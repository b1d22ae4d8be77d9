/*
 * asan_swift.c — only in AddressSanitizer builds of libustack-preload.so.
 *
 * A program run under the sanitizer-built shim gets the ASan runtime
 * preloaded (tests/net/preload_lib.sh). Preloaded libraries initialise
 * after the program's own libraries, so ASan starts inside the first
 * malloc() of some library constructor, and that malloc can come with a
 * libc lock held: libp11-kit's constructor (curl, wget via gnutls) calls
 * newlocale(), which holds the setlocale lock while it allocates. ASan's
 * start-up looks up "swift_demangle" with dlsym(); when the lookup fails,
 * its dlerror() translates the message with dcgettext(), which takes and
 * then releases that same lock: newlocale()'s lock is left broken, and the
 * program hangs in freelocale() at exit (curl never returned). Exporting
 * the symbol makes the lookup succeed, so dlerror() has nothing to say.
 * ASan calls it only to demangle Swift names; it returns NULL ("cannot"),
 * and ASan prints the name as it is.
 */
#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
__attribute__((visibility("default"))) char *swift_demangle(const char *name, size_t len, char *out,
							     size_t *outlen, uint32_t flags);

char *swift_demangle(const char *name, size_t len, char *out, size_t *outlen, uint32_t flags)
{
	return NULL;
}
#else
typedef int asan_swift_unused;  /* ISO C: a translation unit is not empty */
#endif
