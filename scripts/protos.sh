#!/usr/bin/env bash
# Generates the Python stubs (+ .pyi) from protos/ into clients/python.
# With --check, generates into a temporary folder and fails if the committed stubs differ.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"
out="clients/python"
if [[ "${1:-}" == "--check" ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/narrator/v1"
bin="$(dirname "$py")"
"$py" -m grpc_tools.protoc -I protos \
  --plugin=protoc-gen-mypy="$bin/protoc-gen-mypy" \
  --plugin=protoc-gen-mypy_grpc="$bin/protoc-gen-mypy_grpc" \
  --python_out="$out" --mypy_out=quiet:"$out" \
  --grpc_python_out="$out" --mypy_grpc_out=quiet:"$out" \
  protos/narrator/v1/*.proto
touch "$out/narrator/v1/__init__.py"
if [[ "${1:-}" == "--check" ]]; then
  if ! diff -r -x __pycache__ "$out/narrator/v1" clients/python/narrator/v1; then
    echo "generated stubs drifted from protos/: run 'make protos' and commit" >&2
    exit 1
  fi
  echo "generated stubs match protos/"
fi
