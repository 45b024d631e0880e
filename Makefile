# Two commands matter for a new user: `make serve` and `make test`. Each creates .venv and
# installs what it needs first; the other targets are for developers.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# One stamp per set of dependencies: serving alone (`pip install .`), + training (`.[train]`), + tests (`.[dev]`).
SERVE := $(VENV)/.stamp-serve
TRAIN := $(VENV)/.stamp-train
STAMP := $(VENV)/.stamp-dev

.PHONY: venv serve test test-fast data browser audit wrk train eval lint format bench bench-peers bench-grpc soak fuzz docs-assets screenshots docker-smoke clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# constraints.txt pins what pyproject.toml only bounds (torch: the exact CPU build).
PIP_INSTALL := $(PY) -m pip install --quiet -c constraints.txt

$(SERVE): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e .
	touch $@

$(TRAIN): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[train]'
	touch $@ $(SERVE)

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP_INSTALL) -e '.[dev]'
	touch $@ $(TRAIN) $(SERVE)

venv: $(STAMP)

serve: $(SERVE)
	$(PY) -m app

data: $(TRAIN)
	$(PY) -m training.data

# The browser tests (Swagger UI offline) drive Debian's headless Chromium; installed here when missing.
browser:
	bash tools/ensure_chromium.sh

# The security checks of what serves: flake8-bandit's rules over app/, and the serving dependencies against
# known vulnerabilities (says "NOT AUDITED" and passes when the advisory service cannot be reached; SECURITY.md).
audit: $(STAMP)
	$(PY) -m ruff check --select S app
	$(PY) -m tools.audit_dependencies

test: $(STAMP) data browser audit
	$(PY) -m pytest

# A minute's check while developing: everything but the slow kinds (markers in pyproject.toml).
test-fast: $(STAMP) data
	$(PY) -m pytest -q -m "not (live or browser or fuzz or training or dataset or k8s or network)"

train: $(TRAIN) data
	$(PY) -m training.digit
	$(PY) -m training.fashion
	$(PY) -m training.house
	$(PY) -m training.poem
	$(PY) -m training.rhyme_tables
	$(PY) -m training.house_fields
	$(PY) -m training.export

eval: $(TRAIN) data
	$(PY) -m training.evaluate

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP) data wrk
	$(PY) -m bench.inference
	$(PY) -m bench.serve
	$(PY) -m bench.saliency
	$(PY) -m bench.reload
	$(PY) -m bench.poems

# wrk (a C load generator, Debian's package) for the load benchmarks, installed when missing.
wrk:
	@command -v wrk >/dev/null || bash tools/apt_install.sh "The load benchmarks" wrk

# Mixed load, 4x overload, mixed load again (bench/soak.py).
soak: $(STAMP) data wrk
	$(PY) -m bench.soak

# Long schema-driven fuzzing (make test runs 25 cases per operation); a failure prints its Hypothesis seed.
fuzz: $(STAMP)
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest tests/fuzz --hypothesis-show-statistics

# Digits through the gRPC door against the REST raw-bytes door, both under h2load (Debian's nghttp2-client).
bench-grpc: $(STAMP) data
	@command -v h2load >/dev/null || bash tools/apt_install.sh "The gRPC benchmark" nghttp2-client
	$(PY) -m bench.grpc_rest

# dlserve beside plain FastAPI, a naive server and LitServe, under wrk.
bench-peers: $(STAMP) wrk
	$(PIP_INSTALL) -e '.[dev,bench]'
	$(PY) -m bench.peers

# Re-vendor the Swagger UI / ReDoc files served at /docs and /redoc (pinned in tools/fetch_docs_assets.py).
docs-assets: $(STAMP)
	$(PY) -m tools.fetch_docs_assets

# The README's pictures of the playground (docs/playground-*.png), from the real server in headless Chromium.
screenshots: $(STAMP) data browser
	bash tools/ensure_cjk_font.sh
	$(PY) -m tools.playground_screenshots

# Build the CPU image, run it with compose, call every endpoint, stop it under load (deploy/smoke.sh; needs Docker).
docker-smoke:
	bash deploy/smoke.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
