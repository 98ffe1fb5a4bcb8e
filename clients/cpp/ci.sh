#!/usr/bin/env bash
# Builds the C++ client and runs its ctest tests (narrator_client_test and
# narrator_example) against a real Narrator server with the offline narrator,
# as a studio would run it: API keys (made with the server's CLI) and mTLS
# (certificates made here with openssl).
#
# Needs the repo's Python venv at <repo>/.venv (the Makefile creates it).
# Installs the Debian packages below when missing (needs root or sudo).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

# --- packages ----------------------------------------------------------------
packages=(cmake make g++ pkg-config libgrpc++-dev libprotobuf-dev protobuf-compiler
          protobuf-compiler-grpc openssl)
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

mkdir -p "$work/data" "$work/pki"

# --- certificates: a CA, the server's (localhost, narrator.internal, 127.0.0.1), a client's
pki="$work/pki"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
  -subj "/CN=narrator ci CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() {  # leaf NAME EXTENSIONS
  printf '%b' "$2" >"$pki/$1.ext"
  openssl req "${ec[@]}" -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$1" 2>/dev/null
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -sha256 -extfile "$pki/$1.ext" \
    -out "$pki/$1.pem" 2>/dev/null
}
leaf server "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,DNS:narrator.internal,IP:127.0.0.1\n"
leaf client "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"

# --- API keys, made with the server's CLI in its data directory ----------------
keys_cli() {  # keys_cli NAME [FLAGS]: prints the new key (the CLI's last line)
  (
    cd "$repo"
    for v in $(compgen -e | grep -E '^(OPENAI|NARRATOR)_' || true); do unset "$v"; done
    NARRATOR_DATA_DIR="$work/data" "$python" -m narrator_server keys create "$@"
  ) | tail -n 1
}
key_example="$(keys_cli example --tenant studio)"  # first alone: it creates the database
keys_cli rival >"$work/rival.key" &
keys_cli metered --player-requests-per-minute 2 >"$work/metered.key" &
wait
key_rival="$(cat "$work/rival.key")"
key_metered="$(cat "$work/metered.key")"
for k in "$key_example" "$key_rival" "$key_metered"; do
  [[ "$k" == nrk_* ]] || { echo "ci.sh: narrator keys create printed no key" >&2; exit 1; }
done

# No OPENAI_* variables: the server answers with its built-in offline narrator
# (paced 5 ms a delta, so that the example's spectator sees turns as they run).
# exec: $! is the server itself, so the cleanup's SIGTERM reaches it.
(
  cd "$repo"
  for v in $(compgen -e | grep -E '^(OPENAI|NARRATOR)_' || true); do unset "$v"; done
  export NARRATOR_PORT=0 NARRATOR_HOST=127.0.0.1 NARRATOR_DATA_DIR="$work/data" \
         NARRATOR_METRICS_PORT=-1 NARRATOR_OFFLINE_PACE_MS=5 PYTHONUNBUFFERED=1 \
         NARRATOR_TLS_CERT_FILE="$pki/server.pem" NARRATOR_TLS_KEY_FILE="$pki/server.key" \
         NARRATOR_TLS_CLIENT_CA_FILE="$pki/ca.pem"
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

# --- tests -------------------------------------------------------------------
rc=0
NARRATOR_ADDRESS="$address" NARRATOR_API_KEY="$key_example" NARRATOR_PLAYER="" \
NARRATOR_TEST_RIVAL_KEY="$key_rival" NARRATOR_TEST_METERED_KEY="$key_metered" \
NARRATOR_TLS_CA_FILE="$pki/ca.pem" NARRATOR_TLS_CLIENT_CERT_FILE="$pki/client.pem" \
NARRATOR_TLS_CLIENT_KEY_FILE="$pki/client.key" NARRATOR_TEST_REQUIRE_LIVE=1 \
  ctest --test-dir build --output-on-failure -V || rc=$?
if ((rc != 0)); then
  echo "--- server stderr ---" >&2; tail -n 50 "$work/server.err" >&2 || true
fi
exit "$rc"
