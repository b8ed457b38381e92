# One task file for developers and CI. `make help` lists the targets.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
RUN := $(UV) run --frozen

# Python's bytecode cache stays on for everything these targets run. Some machines (this
# workplace's among them) set PYTHONDONTWRITEBYTECODE=1, and then every process compiles every
# module it imports again: each test worker, and each `khoyte serve` or CLI a test starts
# (≈ 2–3 s of CPU a process). Installed packages are compiled once, when uv installs them.
unexport PYTHONDONTWRITEBYTECODE
export UV_COMPILE_BYTECODE := 1

.PHONY: help install test test-fast lint typecheck check ci bench demo fieldspecs system-deps assets security

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## / — /'

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

install: $(UV) assets  ## install khoyte and its dev tools into .venv (from uv.lock)
	$(UV) sync --frozen --quiet

# Front-end libraries (Apache ECharts, Swagger UI for /docs) from the npm registry, pinned by package-lock.json.
VENDOR := src/khoyte/web/static/vendor
assets: $(VENDOR)/echarts.min.js  ## dashboard libraries from npm into web/static/vendor

$(VENDOR)/echarts.min.js: tools/assets/package.json tools/assets/package-lock.json
	cd tools/assets && npm ci --ignore-scripts --no-audit --no-fund --silent
	mkdir -p $(VENDOR)
	cp tools/assets/node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts.min.js
	cp tools/assets/node_modules/echarts/LICENSE $(VENDOR)/echarts.LICENSE
	cp tools/assets/node_modules/swagger-ui-dist/swagger-ui-bundle.js $(VENDOR)/
	cp tools/assets/node_modules/swagger-ui-dist/swagger-ui.css $(VENDOR)/
	cp tools/assets/node_modules/swagger-ui-dist/LICENSE $(VENDOR)/swagger-ui.LICENSE

system-deps:  ## Debian packages the tests need (Chromium), PostgreSQL started
	bash tools/system-deps.sh

test: install  ## run the whole test suite (what CI runs)
	$(RUN) pytest -n 2 -q

# The inner loop: everything but the tests marked `slow` (Chromium, schemathesis, the role matrix,
# large synthetic provinces, CLI subprocesses, crash, several-process and load tests): README states its time.
# Markers also select by component: `-m browser`, `-m postgres`, `-m "not browser"`.
# Three workers on two cores: a quarter of a worker's time is spent waiting (PostgreSQL's own
# process, servers a test starts, sockets), so a third worker fills it (measured 3:47 → 3:14).
test-fast: install  ## the test suite without the slow tests (see README for its duration)
	$(RUN) pytest -n 3 -q -m "not slow"

lint: install  ## ruff
	$(RUN) ruff check .
	$(RUN) ruff format --check src tests benchmarks tools hatch_build.py

typecheck: install  ## mypy --strict on the package
	$(RUN) mypy

fieldspecs: install  ## check generated files (field specs, docs/rules.md) are up to date
	$(RUN) python tools/gen_fieldspecs.py --check
	$(RUN) python tools/gen_docs.py --check

check: lint typecheck fieldspecs security  ## everything but the tests

ci: system-deps check test  ## what .ci/run does

bench: install  ## benchmarks (numbers and ratios against a same-run baseline)
	$(RUN) python -m benchmarks

demo: install  ## the synthetic province through the whole system; prints the dashboard URL
	$(RUN) khoyte demo

# Static security analysis and known-vulnerability audit of the locked dependencies.
# bandit exceptions, each justified:
#   B101 assert: asserts narrow types for mypy (errors.py handlers, converters); no security
#        decision rests on one (security/ has none).
#   B311 random: the synthetic-province generator needs reproducible, not secret, randomness;
#        secrets (tokens, session ids, TOTP) come from `secrets`.
#   B406 xml.sax.saxutils.escape: used to WRITE XML (writer, synth); the reader parses safely.
#   B608 (analytics/, warehouse/ only) SQL text: these modules compose DuckDB/PostgreSQL SQL
#        from fixed column and table names chosen from whitelists in code; every value a user
#        sends (dates, codes, scope) is a bound parameter or refused (tests/test_warehouse_truth.py sends
#        hostile filter values). Everywhere else B608 stays on.
# Single hard-coded-looking strings are marked `# nosec B105/B107` where they stand, with why.
# pip-audit reads the exact versions from uv.lock; where the vulnerability service cannot be
# reached (offline workplaces), it reports packages as skipped rather than failing.
security: install  ## bandit + pip-audit
	$(RUN) bandit -q -r src -s B101,B311,B406 -x src/khoyte/analytics,src/khoyte/warehouse
	$(RUN) bandit -q -r src/khoyte/analytics src/khoyte/warehouse -s B101,B608
	$(UV) export --frozen --format requirements-txt --no-emit-project --quiet -o .pip-audit-requirements.txt
	$(RUN) pip-audit -r .pip-audit-requirements.txt --disable-pip --require-hashes --progress-spinner off; \
		status=$$?; rm -f .pip-audit-requirements.txt; exit $$status
