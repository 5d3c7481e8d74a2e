#!/usr/bin/env bash
# Runs an example workflow end to end in a scratch copy, then shows what sciflow knows:
# lint → dry run → run on the local Dask cluster → provenance lineage of the final output.
#   bash scripts/run-example.sh [workflows/climate|workflows/genomics] [FINAL_OUTPUT]
set -euo pipefail
example=${1:-workflows/climate}
case "$(basename "$example")" in
  climate)  default_final=results/report.txt ;;
  genomics) default_final=results/samples.tsv ;;
  *)        default_final= ;;
esac
final=${2:-$default_final}
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
  if [ -n "$final" ] && [ -f "$final" ]; then
    echo "== $final"
    cat "$final"
    if "$bin/sciflow" prov --help >/dev/null 2>&1; then
      echo "== sciflow prov lineage $final"
      "$bin/sciflow" prov lineage "$final"
    fi
  fi
fi
echo "== outputs in $out"
