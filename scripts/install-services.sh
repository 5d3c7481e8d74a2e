#!/usr/bin/env bash
# Installs the system packages the test suite drives for real: graphviz (dag pictures),
# chromium (the HTML report opened headless) and a single-node SLURM with munge (HPC tests). Idempotent; skips what is present.
# The tests themselves start and stop the daemons (tests/conftest.py).
set -euo pipefail
need=()
command -v dot >/dev/null || need+=(graphviz)
command -v chromium >/dev/null || need+=(chromium)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-services: not root; skipping ${need[*]} (tests needing them will be skipped)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
