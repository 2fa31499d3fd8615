# plantrack: `make run` serves the demo on SQLite; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run test lint install demo serve worker clean bench bench-quick bench-smoke bench-deps bench-soak

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Demo sign-in uses the Firebase Auth emulator mode (unsigned tokens; dev only).
DEV_ENV := FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099

## run: install, migrate the embedded SQLite, load the demo, serve on :8000
run: $(STAMP)
	$(BIN)/plantrack migrate
	$(BIN)/plantrack refold --missing
	$(BIN)/plantrack demo
	@echo
	@echo "plantrack is starting on http://127.0.0.1:8000"
	@echo "  staff pages:                http://127.0.0.1:8000/admin"
	@echo "  API and its documentation:  http://127.0.0.1:8000/schema"
	@echo "  health:                     http://127.0.0.1:8000/health"
	@echo "  sign in as a demo patient (phones +79165000000 … +79165000299):"
	@echo "    TOKEN=\$$($(DEV_ENV) $(BIN)/plantrack dev-token --phone +79165000001)"
	@echo "    curl -s localhost:8000/api/v1/auth/patient -H 'content-type: application/json' \\"
	@echo "      -d \"{\\\"firebase_id_token\\\": \\\"\$$TOKEN\\\"}\""
	@echo "  a demo patient's page behind the SMS link (demo SMS are only logged):"
	@echo "    $(BIN)/plantrack dev-link --phone +79165000003"
	@echo "  demo staff (password demo-password-2026; first sign-in shows a QR for the"
	@echo "  authenticator app): operator@plantrack.demo, analyst@plantrack.demo, health@plantrack.demo,"
	@echo "  manager1@plantrack.demo, coordinator1@plantrack.demo (clinics 1-3)"
	@echo "  data: var/ (delete it to start over)"
	@echo
	$(DEV_ENV) PLANTRACK_EMBEDDED_WORKER=1 $(BIN)/plantrack serve

## test: lint, then the whole suite on SQLite, then the database tests on PostgreSQL, then
## every benchmark at tiny sizes (bench-smoke), so a benchmark that breaks fails here
test: $(STAMP) lint bench-deps
	$(BIN)/pytest --db=sqlite
	$(BIN)/pytest --db=postgres -m db
	$(BIN)/python -m bench.all --smoke

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## bench: the whole benchmark suite (an hour or more); bench-quick: a few minutes;
## bench-smoke: every benchmark at tiny sizes, about a minute and a half (part of `make test`)
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e ".[test,bench]"
	touch $(BENCH_STAMP)

bench-deps: $(BENCH_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) \
		|| (echo "wrk is needed: apt-get install wrk" && false)

bench: bench-deps
	$(BIN)/python -m bench.all

bench-quick: bench-deps
	$(BIN)/python -m bench.all --quick

bench-smoke: bench-deps
	$(BIN)/python -m bench.all --smoke

## bench-soak: 30 minutes of mixed load at about half the machine (by hand, not in bench)
bench-soak: bench-deps
	$(BIN)/python -m bench.soak --minutes 30

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
