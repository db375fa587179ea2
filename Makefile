# The two commands of the README quick start. Both create .venv on first use: `make serve`
# installs what the server needs, `make test` adds the test tools (extras "test").
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SERVE_STAMP := $(VENV)/.installed-serve-$(SUM)
TEST_STAMP := $(VENV)/.installed-test-$(SUM)

.PHONY: serve test lint typecheck browser dcmtk bytecode viewer bench bench-scale clean

$(SERVE_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-*
	touch $(SERVE_STAMP)

$(TEST_STAMP): $(SERVE_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

# The package is installed editable, and some machines set PYTHONDONTWRITEBYTECODE: compile
# it here so that every start (and every server the tests start) reads bytecode instead of
# compiling ~150 modules again (about 0.2 s of each start). Only changed files are redone.
bytecode: $(SERVE_STAMP)
	@$(BIN)/python -m compileall -q src

# The OHIF viewer served at /viewer/: the pinned @ohif/app tarball from the npm registry
# (kept in ~/.cache/openpacs, checked against its sha512), unpacked into .venv once. Offline
# or failed: one line, and the server runs without it (the share pages' viewer remains).
viewer: $(SERVE_STAMP)
	@$(BIN)/openpacs viewer install || true

serve: $(SERVE_STAMP) bytecode viewer
	@echo "The openpacs command is in $(VENV)/bin; to use it in your shell: . $(VENV)/bin/activate"
	$(BIN)/openpacs serve

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The share page is tested in a real headless Chromium (Debian packages). Installed when
# missing and we may (root); otherwise those tests skip with a reason (but fail in CI).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null)); \
	  else echo "chromium not installed: the browser test will be skipped"; fi

# dcmtk's echoscu, storescu, findscu, movescu, getscu and storescp are the reference DICOM
# peer of the DIMSE tests (Debian package). Installed like chromium; without it those
# tests skip with a reason (but fail in CI).
dcmtk:
	@command -v storescu >/dev/null && command -v storescp >/dev/null || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -q dcmtk >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null && \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -q dcmtk >/dev/null)); \
	  else echo "dcmtk not installed: the DICOM network tests will be skipped"; fi

# Two test processes: the end-to-end tests mostly wait on servers, subprocesses and disks.
test: lint typecheck browser dcmtk bytecode viewer
	$(BIN)/pytest -q -n 2

bench: $(TEST_STAMP)
	$(BIN)/python -m bench.run

# Not part of CI: a million instances on SQLite and on PostgreSQL (see bench/scale.py);
# a smaller run: make bench-scale SCALE_ARGS="--instances 100000".
bench-scale: $(TEST_STAMP)
	$(BIN)/python -m bench.scale $(SCALE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
