/* libpq.a (Debian) is built --with-gssapi; Debian ships no static libgssapi_krb5.
 * These stand-ins make every GSSAPI call fail: libpq then finds no credential
 * cache (gssencmode=prefer falls back to plain/SSL) and fails a server's
 * request for GSSAPI authentication with an error. */
#include <stddef.h>
typedef unsigned int OM_uint32;
#define GSS_S_FAILURE (13u << 16)
#define FAIL(name) OM_uint32 name(OM_uint32 *minor, ...) { if (minor) *minor = 0; return GSS_S_FAILURE; }
FAIL(gss_acquire_cred) FAIL(gss_delete_sec_context) FAIL(gss_display_status) FAIL(gss_import_name)
FAIL(gss_init_sec_context) FAIL(gss_release_buffer) FAIL(gss_release_cred) FAIL(gss_release_name)
FAIL(gss_unwrap) FAIL(gss_wrap) FAIL(gss_wrap_size_limit)
void *GSS_C_NT_HOSTBASED_SERVICE = NULL;
