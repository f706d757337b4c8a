# Two commands for a fresh machine with Node and npm: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export REDOCLY_TELEMETRY := off
export NPM_CONFIG_UPDATE_NOTIFIER := false

BIN := node_modules/.bin
GENERATED ?= generated
PG_TEST_URL ?= $(TEST_DATABASE_URL)
# Each run also writes a JSON report, which .ci/run adds up into one closing line.
# REPORT_PREFIX keeps runs on several Node versions apart.
REPORT = --reporter=default --reporter=json --outputFile.json=dist/test-results/$(REPORT_PREFIX)$(1).json
MOCK_HOST ?= 127.0.0.1
MOCK_PORT ?= 4010
DOCS_OUT ?= dist/docs
CLIENT_OUT ?= dist/client

.PHONY: help install generate lint breaking release-spec build client run start migrate migrate-rollback db-create admin test test-embedded test-conformance test-postgres test-pgbouncer test-production mock docs bench bench-plans bench-search bench-load clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

install: node_modules/.installed ## Install dependencies (only when the lockfile changed)

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

generate: install ## Bundle openapi/ and regenerate the TypeScript types in generated/
	@mkdir -p $(GENERATED)
	$(BIN)/redocly bundle openapi/openapi.yaml -o $(GENERATED)/openapi.json
	$(BIN)/redocly bundle openapi/openapi.yaml -o $(GENERATED)/openapi.yaml
	$(BIN)/openapi-typescript $(GENERATED)/openapi.yaml -o $(GENERATED)/openapi.d.ts

lint: install ## Lint the spec (0 errors, 0 warnings), check it against the released one, type-check
	$(BIN)/redocly lint openapi/openapi.yaml
	@$(MAKE) --no-print-directory breaking
	$(BIN)/tsc --noEmit -p tsconfig.json
	$(BIN)/tsc --noEmit -p tsconfig.client.json

breaking: install ## Fail on a change that breaks clients of the last released spec, unless the major version moved
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  { $(BIN)/redocly bundle openapi/openapi.yaml -o "$$tmp/openapi.json" >"$$tmp/log" 2>&1 || { cat "$$tmp/log"; exit 1; }; } && \
	  $(BIN)/tsx src/cli/breaking-changes.ts openapi/released "$$tmp/openapi.json"

release-spec: generate ## On release: keep the bundled spec as openapi/released/<info.version>.json
	@version=$$(node -p "require('./$(GENERATED)/openapi.json').info.version") && \
	  cp $(GENERATED)/openapi.json "openapi/released/$$version.json" && \
	  echo "openapi/released/$$version.json is now the base of make breaking: commit it with the release"

build: install ## Compile to dist/ (npm run build: what a platform's build step and the Dockerfile run)
	npm run build

client: install ## Build the typed client as an npm package: $(CLIENT_OUT)/task-management-client-<version>.tgz
	@$(BIN)/tsx src/cli/client-package.ts $(CLIENT_OUT)

# The server migrates at start-up itself: a `migrate` step first would open the database twice.
# esbuild bundles src/ in 0.2 s (packages stay external, the transform is tsx's own) for plain node:
# tsx's loader hooks were half of a restart (bench/startup.ts). `.run/` sits beside `generated/`,
# which src/spec.ts finds relative to itself. `npm run dev` keeps tsx watch.
run: install ## Install, migrate and serve on :8000 (embedded database unless DATABASE_URL is set)
	@$(BIN)/esbuild src/main.ts --bundle --platform=node --format=esm --packages=external --keep-names --sourcemap --outfile=.run/main.mjs --log-level=warning
	node --enable-source-maps .run/main.mjs

# node itself, not npm start: npm does not pass SIGTERM on to the server, and prints a banner.
# The heap limit as npm start and the image set it (README: Memory).
start: build ## Serve the compiled build as production runs it (node dist/src/main.js)
	exec node --max-old-space-size=256 --max-semi-space-size=8 dist/src/main.js

migrate: install ## Bring the database schema to the latest version
	$(BIN)/tsx src/cli/migrate.ts

migrate-rollback: install ## Undo the most recent migration
	$(BIN)/tsx src/cli/migrate.ts rollback

db-create: install ## Create the database named in DATABASE_URL if it is missing
	$(BIN)/tsx src/cli/db-create.ts

# Exported by make, not spliced into a shell command: quotes and $ in a password stay as typed.
admin: export ADMIN_EMAIL = $(value EMAIL)
admin: export ADMIN_PASSWORD = $(value PASSWORD)
admin: install ## Create an admin: make admin EMAIL=… PASSWORD=…
	@$(BIN)/tsx src/cli/admin.ts

test: install ## Run every test on the embedded database, through Prism's validator, and on PostgreSQL (direct and through PgBouncer) when TEST_DATABASE_URL is set
	@$(MAKE) --no-print-directory test-embedded
	@$(MAKE) --no-print-directory test-conformance
	@$(MAKE) --no-print-directory test-production
	@if [ -n "$(PG_TEST_URL)" ]; then $(MAKE) --no-print-directory test-postgres test-pgbouncer; else echo "TEST_DATABASE_URL is not set: skipped the PostgreSQL and PgBouncer runs"; fi

# TEST_FILES: only these test files (CI's smoke run on the Node lines other than the image's).
test-embedded: install
	@echo "== tests on the embedded database (PGlite)"
	env -u TEST_DATABASE_URL $(BIN)/vitest run $(TEST_FILES) $(call REPORT,embedded)

test-conformance: install
	@echo "== tests through prism proxy --errors (an independent check of every response)"
	env -u TEST_DATABASE_URL CONFORMANCE=prism $(BIN)/vitest run $(call REPORT,conformance)

test-postgres: install
	@echo "== tests on PostgreSQL"
	TEST_DATABASE_URL='$(PG_TEST_URL)' $(BIN)/vitest run $(call REPORT,postgres)

test-production: install
	@echo "== the compiled build with production dependencies only, as the Docker image runs it"
	TEST_PRODUCTION_BUILD=1 $(BIN)/vitest run tests/production-build.test.ts $(call REPORT,production)

test-pgbouncer: install
	@echo "== tests on PostgreSQL through PgBouncer in transaction pooling mode"
	TEST_DATABASE_URL='$(PG_TEST_URL)' TEST_PGBOUNCER=1 $(BIN)/vitest run $(call REPORT,pgbouncer)

image-test: install ## Build the Docker image and run it, and compose.yaml, with podman (installs it from Debian; see docker/image-test/run.sh)
	docker/image-test/run.sh $(call REPORT,image)

mock: install ## Serve a mock of the API from the spec's examples on http://127.0.0.1:4010 (Prism)
	$(BIN)/prism mock openapi/openapi.yaml --host $(MOCK_HOST) --port $(MOCK_PORT)

docs: install ## Build the reference docs as one self-contained, offline page: dist/docs/index.html
	$(BIN)/redocly build-docs openapi/openapi.yaml --inlineBundle --output $(DOCS_OUT)/index.html
	$(BIN)/tsx src/cli/offline-docs.ts $(DOCS_OUT)/index.html

bench: install ## Print latency figures and query plans (embedded database; set TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/tsx bench/login-timing.ts
	$(BIN)/tsx bench/password-reset-timing.ts
	$(BIN)/tsx bench/list-tasks.ts
	$(BIN)/tsx bench/startup.ts

bench-plans: install ## Print EXPLAIN (ANALYZE, BUFFERS) of the planning queries on 1 000 000 tasks (PostgreSQL at BENCH_DATABASE_URL, default .../bench_plans, recreated)
	$(BIN)/tsx bench/task-planning.ts

bench-search: install ## Print EXPLAIN (ANALYZE, BUFFERS) of a title search on 1 000 000 tasks, before and after the owner-scoped index (BENCH_DATABASE_URL, default .../bench_search, recreated); then another user's latency under one user's flood of searches (TEST_DATABASE_URL)
	$(BIN)/tsx bench/search-plan.ts
	$(BIN)/tsx bench/greedy-user.ts

# On the Node line the image runs (BENCH_NODE=image), installed beside the system's by .ci/node the
# first time; BENCH_NODE=system for the node on PATH, or a major such as 22. A Node that cannot be
# had stops the run rather than leave it on another line.
BENCH_NODE ?= image
bench-load: build ## Load-test the production build against a bare floor on a fresh PostgreSQL database (BENCH_DATABASE_URL), on the image's Node (BENCH_NODE); see bench/load/settings.ts
	$(BIN)/tsc -p bench/load/tsconfig.json
	node_bin=$$(.ci/node $(BENCH_NODE)) && export PATH="$$node_bin:$$PATH" && \
	  node dist/bench/load/run.js && \
	  $(BIN)/tsx bench/floods.ts && \
	  $(BIN)/tsx bench/token-verify.ts && \
	  $(BIN)/tsx bench/streams.ts

clean: ## Remove build output
	rm -rf dist .run
