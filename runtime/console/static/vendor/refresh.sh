#!/usr/bin/env bash
# Refreshes the vendored Mermaid from the npm registry: mermaid.min.js (the
# browser build, one file) and its licence. No Node needed to build or test
# luaivr; only this script needs npm (or curl: the tarball URL below).
#   runtime/console/static/vendor/refresh.sh [VERSION]
set -euo pipefail
version=${1:-11.12.0}
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL "https://registry.npmjs.org/mermaid/-/mermaid-$version.tgz" -o "$tmp/mermaid.tgz"
tar -xzf "$tmp/mermaid.tgz" -C "$tmp" package/dist/mermaid.min.js package/LICENSE
cp "$tmp/package/dist/mermaid.min.js" mermaid.min.js
cp "$tmp/package/LICENSE" mermaid.LICENSE
sed -i "s/^mermaid .*/mermaid $version (MIT), from https:\/\/registry.npmjs.org\/mermaid\/-\/mermaid-$version.tgz/" VERSIONS
echo "mermaid $version: $(wc -c < mermaid.min.js) bytes"
