#!/usr/bin/env bash
# CI for the Node.js client: install the locked dependencies, type-check the
# JSDoc-typed sources (tsc, no output), then run the tests (node's built-in
# runner) against real servers started from the repository's Python venv
# (<repo>/.venv, created by the Makefile). The TLS tests need openssl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if ((${#missing[@]})); then
  echo "not found: installing Debian's ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

repo_root="$(cd ../.. && pwd)"
if [ ! -x "$repo_root/.venv/bin/python" ] && [ -z "${NARRATOR_PYTHON:-}" ]; then
  echo "error: $repo_root/.venv/bin/python is missing; create the venv first (make pytest does)" >&2
  exit 1
fi

echo "node $(node --version), npm $(npm --version)"
npm ci --no-audit --no-fund
npm run --silent typecheck
node --test
