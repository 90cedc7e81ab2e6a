// SQLite (Debian: libsqlite3-dev), linked statically from libsqlite3.a.
// Used read-only, one connection per lookup (Sources/ChatHooksCore/Lookup/SQLiteSource.swift).
#include <sqlite3.h>

// SQLITE_TRANSIENT is a macro casting -1 to a function pointer, which Swift cannot
// import: bound text is copied by SQLite before the call returns.
static inline sqlite3_destructor_type chathooks_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}
