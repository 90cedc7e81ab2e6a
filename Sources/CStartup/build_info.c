/*
 * What `chathooks --version` prints: our version (from the VERSION file, put
 * here by Package.swift) and the versions of the three C libraries linked into
 * the executable. They are linked statically, so a security update of either
 * reaches the executables only by rebuilding them; these strings are the
 * headers' own, from the same packages as the static libraries.
 */
#include "CStartup.h"

#include <crypt.h>
#include <fcgi_config.h>
#include <sqlite3.h>

#ifndef CHATHOOKS_VERSION
#define CHATHOOKS_VERSION "unknown"
#endif

const char *chathooks_version(void) { return CHATHOOKS_VERSION; }
const char *chathooks_libfcgi_version(void) { return PACKAGE_VERSION; }
const char *chathooks_libxcrypt_version(void) { return XCRYPT_VERSION_STR; }
const char *chathooks_sqlite_version(void) { return SQLITE_VERSION; }
