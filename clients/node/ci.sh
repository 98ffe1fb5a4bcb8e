#!/usr/bin/env bash
# CI for the Node.js client: install the locked dependencies, then run the
# tests (node's built-in runner) against real servers started from the
# repository's Python venv (<repo>/.venv, created by the Makefile).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node/npm not found: installing Debian's nodejs and npm" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi

repo_root="$(cd ../.. && pwd)"
if [ ! -x "$repo_root/.venv/bin/python" ] && [ -z "${NARRATOR_PYTHON:-}" ]; then
  echo "error: $repo_root/.venv/bin/python is missing; create the venv first (make pytest does)" >&2
  exit 1
fi

echo "node $(node --version), npm $(npm --version)"
npm ci --no-audit --no-fund
node --test
