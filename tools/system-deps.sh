#!/usr/bin/env bash
# Install and start what the test suite needs outside Python. Fails loudly when it cannot:
# the tests must never silently skip PostgreSQL or Chromium.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

# npm: the dashboards' front-end libraries (Apache ECharts) come from the npm registry (make assets)
if ! command -v npm >/dev/null 2>&1; then
  echo "installing nodejs and npm (Debian packages)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq nodejs npm >/dev/null
fi

# R + surveillance: the test oracle for the outbreak-detection algorithms (never used at run time)
if ! command -v Rscript >/dev/null 2>&1 || ! Rscript -e 'library(surveillance)' >/dev/null 2>&1; then
  echo "installing R and r-cran-surveillance (Debian packages)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
    r-base-core r-cran-surveillance >/dev/null
fi
Rscript -e 'suppressMessages(library(surveillance))' || { echo "R package surveillance unavailable" >&2; exit 1; }

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL…"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
