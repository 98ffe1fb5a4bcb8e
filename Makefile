# Every target delegates to a tool or a script, so CI and a laptop run the same commands.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run play test lint typecheck pytest engines protos protos-check buf contract-release \
	node-test cpp-test clients-test bench bench-turns bench-tokens bench-burst bench-floor bench-memory bench-store bench-auth bench-cluster \
	bench-hostile soak fuzz prose traces postgres cluster clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV) && $(PY) -m pip install -q -e '.[dev]' && rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP) ## start the server (offline narrator + SQLite unless OPENAI_* is set)
	$(PY) -m narrator_server

play: $(STAMP) ## the terminal game, against NARRATOR_ADDRESS (default 127.0.0.1:50051)
	$(PY) -m narrator.play

traces: $(STAMP) ## recent traces from the local span file (narrator traces --help for filters)
	$(PY) -m narrator_server traces $(ARGS)

protos: $(STAMP) ## regenerate the Python stubs from protos/
	PYTHON=$(PY) scripts/protos.sh

protos-check: $(STAMP)
	PYTHON=$(PY) scripts/protos.sh --check

buf: $(STAMP) ## lint the contract and check it against the last released one
	cd protos && ../$(VENV)/bin/buf lint && ../$(VENV)/bin/buf breaking --against released/narrator-v1.binpb

contract-release: $(STAMP) ## record the current contract as released (buf breaking compares to it)
	cd protos && ../$(VENV)/bin/buf build --exclude-source-info -o released/narrator-v1.binpb

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy service clients/python

postgres: $(STAMP) engines ## a private PostgreSQL in $NARRATOR_DATA_DIR/postgres (prints its URL; Ctrl+C stops it)
	$(PY) -m narrator_server.testing.postgres $(ARGS)

engines: ## install the Debian packages of PostgreSQL, Redis and nginx when missing
	scripts/engines.sh

pytest: $(STAMP) engines
	$(PY) -m pytest -q

node-test: $(STAMP) ## the Node.js client's tests against a real server
	clients/node/ci.sh

cpp-test: $(STAMP) ## build the C++ client and run its example against a real server
	clients/cpp/ci.sh

clients-test: node-test cpp-test

test: protos-check buf lint typecheck clients-test pytest

cluster: $(STAMP) engines ## PostgreSQL, Redis, NARRATOR_REPLICAS replicas and nginx on NARRATOR_PORT (docs/deploy.md)
	$(PY) scripts/cluster.py

bench: $(STAMP) ## Narrator vs the model called directly (bench/compare.py --help; ARGS="--litellm VENV")
	$(PY) bench/compare.py $(ARGS)

bench-turns: $(STAMP) ## per-turn CPU of trees side by side, interleaved (ARGS="--narrator before=/tmp/b --narrator after=.")
	$(PY) bench/per_turn_ab.py $(ARGS)

bench-tokens: $(STAMP) ## CPU per paced token of trees side by side, interleaved (ARGS as bench-turns)
	$(PY) bench/per_token_ab.py $(ARGS)

bench-burst: $(STAMP) ## 100 first turns at once: TTFT vs the model called directly (ARGS="--narrator now=.")
	$(PY) bench/first_turns.py $(ARGS)

bench-floor: $(STAMP) ## what a turn costs at the least on this stack: bare grpc.aio stream, one upstream request
	$(PY) bench/floor.py $(ARGS)

bench-memory: $(STAMP) ## memory recall, prompt size and recall time over a 200-turn campaign
	$(PY) bench/memory_recall.py $(ARGS)

bench-store: $(STAMP) engines ## store calls per turn on SQLite and PostgreSQL (bench/store.py --help)
	$(PY) bench/store.py $(ARGS)
bench-auth: $(STAMP) ## server CPU per call with API keys and quotas vs NARRATOR_AUTH=off
	$(PY) bench/auth_cost.py $(ARGS)
bench-hostile: $(STAMP) ## issue 8's hostile requests: wall time, server CPU, health latency
	$(PY) bench/hostile.py $(ARGS)

fuzz: $(STAMP) ## the long fuzz run; prints the worst request's server CPU and the health p99
	$(PY) -m pytest tests/fuzz -q -o timeout=7200 --hypothesis-profile=long $(ARGS)

bench-cluster: $(STAMP) engines ## replicas: throughput with 1 and 2, Redis turn log cost, takeover time (bench/cluster.py --help)
	$(PY) bench/cluster.py $(ARGS)

soak: $(STAMP) ## chaos soak through a real server (bench/chaos_soak.py --help)
	$(PY) bench/chaos_soak.py $(ARGS)

prose: $(STAMP) ## the offline narrator's prose over a scripted session (bench/prose_quality.py --help)
	$(PY) bench/prose_quality.py $(ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
