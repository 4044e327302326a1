# The two commands a new user needs are `make demo` and `make test`; both set up
# the virtual environment themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint unit sandbox bench clean chaos

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/sprout-elt demo --replace

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/sqlfluff lint transforms/

# The transform tests also run on a real PostgreSQL: a throwaway server under /tmp,
# installed from Debian's packages if missing, stopped again however pytest ends.
unit: $(STAMP)
	@set -e; pgdir=$$(mktemp -d /tmp/sprout-postgres.XXXXXX); \
	trap 'bash scripts/postgres.sh stop "$$pgdir"' EXIT; \
	dsn=$$(bash scripts/postgres.sh start "$$pgdir"); \
	SPROUT_TEST_POSTGRES_DSN="$$dsn" $(BIN)/pytest -q

test: lint unit

sandbox: $(STAMP)
	$(BIN)/sprout-elt sandbox serve

# Request efficiency, rate use, local cost and marts as ratios; `--scale default` is the
# issue's full scale (hours), so `make bench` runs the small one. See README "Performance".
bench: $(STAMP)
	$(BIN)/python -m bench.run --scale small

# Every fault kind, crash point, concurrent start and bad input against the sandbox,
# printed as one table (about 7 minutes). Its fast subset runs in `make test`.
chaos: $(STAMP)
	$(BIN)/python -m tests.reliability.chaos

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
