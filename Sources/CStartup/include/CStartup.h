#ifndef CHATHOOKS_CSTARTUP_H
#define CHATHOOKS_CSTARTUP_H

/* startup.c replaces two start-up routines of the Swift runtime (see there);
 * nothing of it is called from Swift. accept_timeout.c puts a time limit on
 * each FastCGI connection that libfcgi accepts (see there). */

/* The limit, in seconds, for reads and writes on each accepted connection;
 * 0 for none. Set once, before the first FCGX_Accept_r. */
void chathooks_set_connection_timeout(int seconds);

/* build_info.c: the version and the linked C libraries' versions. */
const char *chathooks_version(void);
const char *chathooks_libfcgi_version(void);
const char *chathooks_libxcrypt_version(void);
const char *chathooks_sqlite_version(void);

/* glibc's memrchr (a GNU extension, so not in Swift's Glibc module): the last
 * `c` in the first `n` bytes of `s`, or NULL. The console reads the journal
 * back from its end with it. */
#include <stddef.h>
void *chathooks_memrchr(const void *s, int c, size_t n);
/* glibc's memmem (GNU too): the first `needle` in `haystack`, or NULL. */
void *chathooks_memmem(const void *haystack, size_t haystack_len, const void *needle, size_t needle_len);

#endif
