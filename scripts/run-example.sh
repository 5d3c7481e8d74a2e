#!/usr/bin/env bash
# Runs an example workflow end to end in a scratch copy, then shows what sciflow knows.
set -euo pipefail
example=${1:-workflows/climate}
bin=$(pwd)/.venv/bin
out=$(mktemp -d)/$(basename "$example")
cp -r "$example" "$out"
cd "$out"
echo "== sciflow lint ($example)"
"$bin/sciflow" lint
if "$bin/sciflow" run --help >/dev/null 2>&1; then
  echo "== sciflow run -n"
  "$bin/sciflow" run -n
  echo "== sciflow run"
  "$bin/sciflow" run --cores 2
fi
echo "== outputs in $out"
