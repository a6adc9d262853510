#!/usr/bin/env bash
# Regenerates the console's vendored Apache ECharts from its npm package (pinned below):
# dist/echarts.min.js, a gzipped copy the server sends to browsers that accept gzip, and
# the package's LICENSE and NOTICE. Nothing is loaded from the internet at view time.
set -euo pipefail
VERSION=5.6.0
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/static/vendor/echarts"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "echarts@$VERSION" >/dev/null && tar xzf "echarts-$VERSION.tgz")
mkdir -p "$out"
cp "$tmp/package/dist/echarts.min.js" "$tmp/package/LICENSE" "$tmp/package/NOTICE" "$out/"
gzip -9 -n -c "$out/echarts.min.js" >"$out/echarts.min.js.gz"
echo "echarts $VERSION" >"$out/VERSION"
ls -l "$out"
