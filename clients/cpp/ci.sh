#!/usr/bin/env bash
# Builds the C++ client and runs narrator_example (as a ctest test) against a
# real Narrator server with the offline narrator.
#
# Needs the repo's Python venv at <repo>/.venv (the Makefile creates it).
# Installs the Debian packages below when missing (needs root or sudo).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

# --- packages ----------------------------------------------------------------
packages=(cmake make g++ pkg-config libgrpc++-dev libprotobuf-dev protobuf-compiler
          protobuf-compiler-grpc)
missing=()
for p in "${packages[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci.sh: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

# --- build -------------------------------------------------------------------
start=$SECONDS
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
echo "ci.sh: build took $((SECONDS - start)) s"

# --- server ------------------------------------------------------------------
python="$repo/.venv/bin/python"
if [[ ! -x "$python" ]]; then
  echo "ci.sh: $python not found; create the venv first (make -C $repo pytest, or python3 -m venv .venv && .venv/bin/pip install -e '.[dev]')" >&2
  exit 1
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "ci.sh: server did not stop on SIGTERM within 5 s; killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$work/data"
# No OPENAI_* variables: the server answers with its built-in offline narrator.
(
  cd "$repo"
  for v in $(compgen -e | grep '^OPENAI_' || true); do unset "$v"; done
  export NARRATOR_PORT=0 NARRATOR_HOST=127.0.0.1 NARRATOR_DATA_DIR="$work/data" \
         NARRATOR_OFFLINE_PACE_MS=0 PYTHONUNBUFFERED=1
  exec "$python" -m narrator_server
) >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

address=""
for _ in $(seq 1 300); do  # up to 30 s
  line="$(grep -m1 -E '^narrator listening on ' "$work/server.out" 2>/dev/null || true)"
  if [[ -n "$line" ]]; then
    address="${line#narrator listening on }"
    address="${address%%[[:space:]]*}"
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [[ -z "$address" ]]; then
  echo "ci.sh: the server did not print 'narrator listening on <host:port>' within 30 s" >&2
  echo "--- server stdout ---" >&2; cat "$work/server.out" >&2 || true
  echo "--- server stderr ---" >&2; cat "$work/server.err" >&2 || true
  exit 1
fi
echo "ci.sh: server ready at $address (pid $server_pid)"

# --- example -----------------------------------------------------------------
rc=0
NARRATOR_ADDRESS="$address" ctest --test-dir build --output-on-failure -V || rc=$?
if ((rc != 0)); then
  echo "--- server stderr ---" >&2; tail -n 50 "$work/server.err" >&2 || true
fi
exit "$rc"
