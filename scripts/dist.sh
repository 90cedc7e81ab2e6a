#!/usr/bin/env bash
# Writes dist/chathooks-VERSION-linux-x86_64.tar.gz: the shared-hosting bundle.
# One stripped static executable (chathooks.cgi: every receiver, routed by
# PATH_INFO), .htaccess, a commented sample config, data/ (denied to the web)
# and INSTALL.md.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat VERSION)
name="chathooks-$version-linux-x86_64"
stage="dist/stage/chathooks"
rm -rf dist/stage && mkdir -p "$stage/data"
cp .build/release/chathooks "$stage/chathooks.cgi"
strip --strip-all "$stage/chathooks.cgi"
chmod 755 "$stage/chathooks.cgi"
cp apache/htaccess "$stage/.htaccess"
cp dist-files/data.htaccess "$stage/data/.htaccess"
cp examples/chathooks.json5 "$stage/chathooks.json5"
chmod 600 "$stage/chathooks.json5"
chmod 700 "$stage/data"
cp dist-files/INSTALL.md "$stage/INSTALL.md"
tar -C dist/stage --owner=0 --group=0 --numeric-owner -czf "dist/$name.tar.gz" chathooks
rm -rf dist/stage
size=$(gzip -dc "dist/$name.tar.gz" | wc -c)
echo "dist/$name.tar.gz ($(du -k "dist/$name.tar.gz" | cut -f1) KiB; $((size / 1024)) KiB unpacked)"
