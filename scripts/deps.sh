#!/usr/bin/env bash
# Installs what building, testing and `make run` need, if it is missing.
# Debian/Ubuntu: apt-get (through sudo when not root). Safe to run repeatedly.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

missing=()
have nginx || missing+=(nginx)
have fcgiwrap || missing+=(fcgiwrap)
have spawn-fcgi || missing+=(spawn-fcgi)
have apache2 || missing+=(apache2)
[ -f /usr/lib/apache2/modules/mod_fcgid.so ] || missing+=(libapache2-mod-fcgid)
# fcgiapp.h and the static libfcgi.a that the executables link (FastCGI).
[ -f /usr/include/fcgiapp.h ] && ls /usr/lib/*/libfcgi.a >/dev/null 2>&1 || missing+=(libfcgi-dev)
have curl || missing+=(curl)
# A real sendmail-compatible MTA for the mail tests (relays to a test SMTP server).
have msmtp || missing+=(msmtp)
# Headless Chromium and its WebDriver (/usr/bin/chromedriver) for the console's browser tests (Tests/console).
have chromium || missing+=(chromium)
have chromedriver || missing+=(chromium-driver)
# A Japanese font, so that the screenshots the browser tests keep show the pages' text.
{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=ja | grep -q .; } || missing+=(fonts-ipafont-gothic)
have python3 || missing+=(python3 python3-pip)
# The guards (Tests/guards): valgrind counts a request's instructions, strace watches start-up;
# nm/objdump/readelf/objcopy are binutils (the Swift toolchain needs it anyway).
have valgrind || missing+=(valgrind)
have strace || missing+=(strace)
have objdump || missing+=(binutils)
# crypt.h and the static libcrypt.a that the handlers link.
[ -f /usr/include/crypt.h ] && ls /usr/lib/*/libcrypt.a >/dev/null 2>&1 || missing+=(libcrypt-dev)
# sqlite3.h and the static libsqlite3.a for the SQLite lookup source (SPALO dataset/search).
[ -f /usr/include/sqlite3.h ] && ls /usr/lib/*/libsqlite3.a >/dev/null 2>&1 || missing+=(libsqlite3-dev)
# libpq.a, and the libpgcommon_shlib.a/libpgport_shlib.a it needs (server-dev), for the PostgreSQL
# sink (chathooks-sink); the server itself for its tests (Tests/sink start their own cluster).
[ -f /usr/include/postgresql/libpq-fe.h ] && ls /usr/lib/*/libpq.a >/dev/null 2>&1 || missing+=(libpq-dev)
ls /usr/lib/postgresql/*/lib/libpgcommon_shlib.a >/dev/null 2>&1 || missing+=(postgresql-server-dev-all)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -f /usr/include/openssl/ssl.h ] && ls /usr/lib/*/libssl.a >/dev/null 2>&1 || missing+=(libssl-dev)
# sodium.h and the static libsodium.a for the console's session tokens (chathooks admin/).
[ -f /usr/include/sodium.h ] && ls /usr/lib/*/libsodium.a >/dev/null 2>&1 || missing+=(libsodium-dev)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: missing $*, and this is not a Debian/Ubuntu system: install them by hand" >&2
    exit 1
  fi
  echo "deps: installing $* (apt-get)"
  $sudo apt-get update -q >/dev/null
  # nginx's and Apache's packages start a service on port 80; the project never uses it.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

# Python modules for the tests and the demo: pytest, bcrypt to make SPALO
# hashes, aiosmtpd to receive the mail the tests send, selenium to drive
# Chromium (with Debian's chromedriver: Selenium never downloads a driver).
if ! python3 -c 'import bcrypt, pytest, aiosmtpd, selenium' >/dev/null 2>&1; then
  echo "deps: installing Python's bcrypt, pytest, aiosmtpd and selenium"
  if ! python3 -m pip install -q bcrypt pytest aiosmtpd selenium >/dev/null 2>&1; then
    # A system Python that refuses pip (PEP 668): Debian's packages instead.
    apt_install python3-bcrypt python3-pytest python3-aiosmtpd python3-selenium
  fi
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "deps: no Swift toolchain on PATH. Install Swift 6 for Linux from swift.org (it is not in Debian's archive), then run make again." >&2
  exit 1
fi
