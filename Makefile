# `make run` serves the emulator; `make test` runs everything. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test services bytecode pytest docker-test wheel-check contracts drift newman fuzz fuzz-long lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# the project's bytecode, written ahead: an environment may forbid Python to write it
# (PYTHONDONTWRITEBYTECODE, as on these machines), and then every process that imports
# the app compiles it again: 0.25 s of CPU a process (each worker of a server, each
# server a test starts). Up-to-date files are skipped.
bytecode: $(STAMP)
	$(PY) -m compileall -q emulator contracts clients

run: $(STAMP) bytecode
	$(VENV)/bin/mockcloud serve

# pytest runs last so the run ends on its summary line (N passed); JUnit XML in reports/
test: services $(STAMP) $(NODE_STAMP) bytecode
	$(MAKE) lint contracts drift newman fuzz wheel-check docker-test pytest

# system services the tests need (Chromium, redis-server, Docker and its daemon); installs
# them from Debian packages as root and starts dockerd; without them their tests skip,
# each with the reason in the summary (-rs)
services:
	$(PYTHON) scripts/ensure_services.py

lint: $(STAMP)
	$(VENV)/bin/ruff check emulator clients contracts tests bench scripts
	$(VENV)/bin/hadolint docker/Dockerfile docker/redis.Dockerfile

pytest: $(STAMP) bytecode
	$(PY) -m pytest -q -rs --junitxml=reports/pytest-junit.xml

# the image built and docker/compose.yaml run (tests/test_docker.py, marker docker, which
# plain pytest leaves out: pyproject's addopts): once, apart from the main run (about a
# minute with a cached base; the first local base image takes 2 min more: debootstrap)
docker-test: $(STAMP)
	$(PY) -m pytest -q -rs -m docker --junitxml=reports/docker-junit.xml tests/test_docker.py

# the built wheel in a fresh virtualenv outside the checkout: serve, contracts verify, and
# the pytest plugin in an outside project (scripts/check_wheel.py; prints its timings)
wheel-check: $(STAMP)
	$(PY) scripts/check_wheel.py

contracts: $(STAMP)
	$(PY) scripts/verify_real_samples.py tests/data/qivivo fixtures/cassettes/lightify

# does the emulator still answer like the recordings? `mockcloud drift` on the Lightify seed
# cassettes and the Qivivo and Netatmo samples, default world; must be clean (known drift
# accepted in scripts/run_drift.py, with its reason); reports/drift.txt and drift.json
drift: $(STAMP)
	$(PY) scripts/run_drift.py

newman: $(STAMP) $(NODE_STAMP)
	$(PY) scripts/run_newman.py

# `mockcloud fuzz` (emulator/toolkit/fuzz.py) on every served contract, bounded (each
# vendor's default --max-examples, about 2 minutes on 2 cores); reports/schemathesis/<vendor>/
fuzz: $(STAMP)
	$(VENV)/bin/mockcloud fuzz lightify netatmo qivivo admin

# opt-in, not in `make test`: at least 10,000 cases per vendor (lightify 12,662, netatmo
# 15,304, qivivo 17,233 cases at seed 2021; 10-20 min each on a loaded 2-core machine)
FUZZ_LONG := lightify:600 netatmo:250 qivivo:500
fuzz-long: $(STAMP)
	@status=0; for run in $(FUZZ_LONG); do \
	  $(VENV)/bin/mockcloud fuzz $${run%%:*} --max-examples $${run##*:} --timeout 5400 \
	    || status=1; \
	done; exit $$status

bench: $(STAMP)
	$(PYTHON) scripts/ensure_services.py wrk
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) node_modules reports
