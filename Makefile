# Two commands for a fresh machine with Node and npm: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export REDOCLY_TELEMETRY := off
export NPM_CONFIG_UPDATE_NOTIFIER := false

BIN := node_modules/.bin
GENERATED ?= generated
PG_TEST_URL ?= $(TEST_DATABASE_URL)
# Each run also writes a JSON report, which .ci/run adds up into one closing line.
REPORT = --reporter=default --reporter=json --outputFile.json=dist/test-results/$(1).json
MOCK_HOST ?= 127.0.0.1
MOCK_PORT ?= 4010
DOCS_OUT ?= dist/docs

.PHONY: help install generate lint breaking release-spec build run start migrate db-create admin test test-embedded test-conformance test-postgres mock docs bench clean

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

breaking: install ## Fail on a change that breaks clients of the last released spec, unless the major version moved
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  { $(BIN)/redocly bundle openapi/openapi.yaml -o "$$tmp/openapi.json" >"$$tmp/log" 2>&1 || { cat "$$tmp/log"; exit 1; }; } && \
	  $(BIN)/tsx src/cli/breaking-changes.ts openapi/released "$$tmp/openapi.json"

release-spec: generate ## On release: keep the bundled spec as openapi/released/<info.version>.json
	@version=$$(node -p "require('./$(GENERATED)/openapi.json').info.version") && \
	  cp $(GENERATED)/openapi.json "openapi/released/$$version.json" && \
	  echo "openapi/released/$$version.json is now the base of make breaking: commit it with the release"

build: install ## Compile to dist/
	rm -rf dist
	$(BIN)/tsc -p tsconfig.build.json
	mkdir -p dist/generated && cp generated/openapi.json generated/openapi.yaml dist/generated/

run: install migrate ## Install, migrate and serve on :8000 (embedded database unless DATABASE_URL is set)
	$(BIN)/tsx src/main.ts

start: build ## Serve the compiled build (what production runs)
	node dist/src/main.js

migrate: install ## Bring the database schema to the latest version
	$(BIN)/tsx src/cli/migrate.ts

db-create: install ## Create the database named in DATABASE_URL if it is missing
	$(BIN)/tsx src/cli/db-create.ts

# Exported by make, not spliced into a shell command: quotes and $ in a password stay as typed.
admin: export ADMIN_EMAIL = $(value EMAIL)
admin: export ADMIN_PASSWORD = $(value PASSWORD)
admin: install ## Create an admin: make admin EMAIL=… PASSWORD=…
	@$(BIN)/tsx src/cli/admin.ts

test: install ## Run every test on the embedded database, through Prism's validator, and on PostgreSQL when TEST_DATABASE_URL is set
	@$(MAKE) --no-print-directory test-embedded
	@$(MAKE) --no-print-directory test-conformance
	@if [ -n "$(PG_TEST_URL)" ]; then $(MAKE) --no-print-directory test-postgres; else echo "TEST_DATABASE_URL is not set: skipped the PostgreSQL run"; fi

test-embedded: install
	@echo "== tests on the embedded database (PGlite)"
	env -u TEST_DATABASE_URL $(BIN)/vitest run $(call REPORT,embedded)

test-conformance: install
	@echo "== tests through prism proxy --errors (an independent check of every response)"
	env -u TEST_DATABASE_URL CONFORMANCE=prism $(BIN)/vitest run $(call REPORT,conformance)

test-postgres: install
	@echo "== tests on PostgreSQL"
	TEST_DATABASE_URL='$(PG_TEST_URL)' $(BIN)/vitest run $(call REPORT,postgres)

mock: install ## Serve a mock of the API from the spec's examples on http://127.0.0.1:4010 (Prism)
	$(BIN)/prism mock openapi/openapi.yaml --host $(MOCK_HOST) --port $(MOCK_PORT)

docs: install ## Build the reference docs as one self-contained, offline page: dist/docs/index.html
	$(BIN)/redocly build-docs openapi/openapi.yaml --inlineBundle --output $(DOCS_OUT)/index.html
	$(BIN)/tsx src/cli/offline-docs.ts $(DOCS_OUT)/index.html

bench: install ## Print latency figures and query plans (embedded database; set TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/tsx bench/login-timing.ts
	$(BIN)/tsx bench/list-tasks.ts
	$(BIN)/tsx bench/floods.ts
	$(BIN)/tsx bench/token-verify.ts

clean: ## Remove build output
	rm -rf dist
