#!/usr/bin/env bash
# Debian packages the generated stacks' tests start for real: Redis (Feast online store, batch
# queue), promtool (alert rules), wrk (serving benchmark), jemalloc (the local Triton's malloc).
# PostgreSQL comes with the machine.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
ldconfig -p 2>/dev/null | grep 'libjemalloc\.so' >/dev/null || missing+=(libjemalloc2)  # no -q: pipefail + SIGPIPE
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package starts a server we do not want; tests start what they need themselves.
if command -v systemctl >/dev/null 2>&1; then systemctl stop prometheus >/dev/null 2>&1 || true; fi
pkill -x prometheus >/dev/null 2>&1 || true
pkill -x redis-server >/dev/null 2>&1 || true
