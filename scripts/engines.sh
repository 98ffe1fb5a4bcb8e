#!/usr/bin/env bash
# Installs, when missing, the Debian packages of the real engines the tests start privately
# (each test run starts its own PostgreSQL, Redis and nginx on free ports; nothing is assumed
# to be running). Needs root or sudo; does nothing when everything is there.
set -euo pipefail
packages=(postgresql redis-server nginx)
missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] ||
    missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "engines.sh: installing ${missing[*]}"
sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
# The packages start system-wide services; the tests never use them.
for service in postgresql redis-server nginx; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
done
