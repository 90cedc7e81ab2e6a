/* libpq.a (Debian) is built --with-ldap, for `ldap://` lines in pg_service.conf only.
 * Debian's static libldap needs libsasl2.a with all its plugins (krb5, MySQL,
 * SQLite, Berkeley DB) and GnuTLS: instead, ldap_init fails, and libpq reports
 * "could not create LDAP structure" for such a service line. */
#include <stddef.h>
#define LDAP_OTHER 0x50
void *ldap_init(const char *host, int port) { (void)host; (void)port; return NULL; }
char *ldap_err2string(int err) { (void)err; return (char *)"LDAP is not supported by this build"; }
int ldap_set_option(void *ld, int opt, const void *v) { (void)ld; (void)opt; (void)v; return -1; }
int ldap_simple_bind(void *ld, const char *who, const char *pw) { (void)ld; (void)who; (void)pw; return -1; }
int ldap_search_st(void *ld, ...) { (void)ld; return LDAP_OTHER; }
int ldap_result(void *ld, ...) { (void)ld; return -1; }
int ldap_count_entries(void *ld, void *m) { (void)ld; (void)m; return 0; }
void *ldap_first_entry(void *ld, void *m) { (void)ld; (void)m; return NULL; }
void *ldap_get_values_len(void *ld, void *e, const char *a) { (void)ld; (void)e; (void)a; return NULL; }
void ldap_value_free_len(void *v) { (void)v; }
int ldap_msgfree(void *m) { (void)m; return 0; }
int ldap_unbind(void *ld) { (void)ld; return 0; }
