#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make deps` (which brings nginx,
# spawn-fcgi, libfcgi-dev and libcrypt-dev): php-cgi and PHP-FPM, wrk,
# valgrind, gcc with the static C library, and Jansson (libjansson-dev ships
# libjansson.a; Debian's libcjson-dev has no static library), and PHP's SQLite
# driver (php-sqlite3: pdo_sqlite, for bench/php/spalo-sqlite.php).
# Debian/Ubuntu, apt-get (through sudo when not root). Safe to run repeatedly.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
have php-cgi || missing+=(php-cgi)
ls /usr/sbin/php-fpm* >/dev/null 2>&1 || missing+=(php-fpm)
{ have php-cgi && php-cgi -m 2>/dev/null | grep -qx pdo_sqlite; } || missing+=(php-sqlite3)
have wrk || missing+=(wrk)
have valgrind || missing+=(valgrind)
have callgrind_annotate || missing+=(valgrind)
have gcc || missing+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
[ -f /usr/include/jansson.h ] && [ -f /usr/lib/x86_64-linux-gnu/libjansson.a ] || missing+=(libjansson-dev)
[ -x /usr/bin/python3 ] || missing+=(python3)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "bench setup: installing ${missing[*]} (apt-get)"
  $sudo apt-get update -q >/dev/null
  # Debian's php-fpm package may start its own service on /run/php/; the
  # benchmark starts its own PHP-FPM on a socket of its own and never uses it.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
