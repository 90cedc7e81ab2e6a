#!/usr/bin/env bash
# Writes dist/chathooks-VERSION-linux-x86_64.tar.gz: the shared-hosting bundle.
# One stripped static executable (chathooks.cgi: every receiver, routed by
# PATH_INFO), .htaccess, a commented sample config, data/ (denied to the web),
# INSTALL.md and SHA256SUMS. INSTALL.md gives chathooks.cgi's size and SHA-256
# (its @CGI_SIZE@ and @CGI_SHA256@ filled in here), so that a copy broken on
# the way (an FTP client's ASCII mode) can be told from a good one.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat VERSION)
name="chathooks-$version-linux-x86_64"
stage="dist/stage/chathooks"
rm -rf dist/stage && mkdir -p "$stage/data"
cp .build/release/chathooks "$stage/chathooks.cgi"
strip --strip-all "$stage/chathooks.cgi"
chmod 755 "$stage/chathooks.cgi"
# Measured after strip: what is shipped.
cgi_size=$(wc -c < "$stage/chathooks.cgi" | tr -d ' ')
cgi_sha256=$(sha256sum "$stage/chathooks.cgi" | cut -d ' ' -f 1)
(cd "$stage" && sha256sum chathooks.cgi > SHA256SUMS)
cp apache/htaccess "$stage/.htaccess"
cp dist-files/data.htaccess "$stage/data/.htaccess"
mkdir -p "$stage/secrets" && cp dist-files/secrets.htaccess "$stage/secrets/.htaccess" && chmod 700 "$stage/secrets"
cp examples/chathooks.json5 "$stage/chathooks.json5"
chmod 600 "$stage/chathooks.json5"
chmod 700 "$stage/data"
sed -e "s/@CGI_SIZE@/$cgi_size/g" -e "s/@CGI_SHA256@/$cgi_sha256/g" dist-files/INSTALL.md > "$stage/INSTALL.md"
if grep -q '@CGI_[A-Z0-9]*@' "$stage/INSTALL.md"; then
    echo "dist.sh: INSTALL.md still holds a placeholder: $(grep -o '@CGI_[A-Z0-9]*@' "$stage/INSTALL.md" | sort -u | tr '\n' ' ')" >&2
    exit 1
fi
# The executable must say the version the tarball is named for (Package.swift reads VERSION
# when the manifest is evaluated, and SwiftPM may not notice that VERSION alone changed).
built=$(.build/release/chathooks --version | cut -d ' ' -f 2)
if [ "$built" != "$version" ]; then
    echo "dist.sh: .build/release/chathooks says version $built, VERSION says $version: touch Package.swift and rebuild" >&2
    exit 1
fi
tar -C dist/stage --owner=0 --group=0 --numeric-owner -czf "dist/$name.tar.gz" chathooks
rm -rf dist/stage
size=$(gzip -dc "dist/$name.tar.gz" | wc -c)
echo "dist/$name.tar.gz ($(du -k "dist/$name.tar.gz" | cut -f1) KiB; $((size / 1024)) KiB unpacked)"
echo "chathooks.cgi: $cgi_size bytes, SHA-256 $cgi_sha256"
