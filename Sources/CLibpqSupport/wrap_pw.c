/* Static executables cannot load NSS modules: glibc's getpwuid_r, for a uid that
 * /etc/passwd lacks, dlopens the next module in /etc/nsswitch.conf (Debian: systemd)
 * and crashes. libpq's lookups (default user name, home directory) read /etc/passwd only. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
int __wrap_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, struct passwd **result) {
    *result = NULL;
    FILE *f = fopen("/etc/passwd", "re");
    if (!f) return 0;
    struct passwd *p; int err;
    while ((err = fgetpwent_r(f, pw, buf, len, &p)) == 0) {
        if (p->pw_uid == uid) { *result = p; break; }
    }
    fclose(f);
    return (err == 0 || err == ENOENT) ? 0 : err;
}
