SHELL := /bin/bash
NPM ?= npm

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: install
install: ## Install the npm dependencies (Node 24 comes with them).
	$(NPM) install

.PHONY: build
build: ## Compile TypeScript to dist/.
	$(NPM) run build

.PHONY: lint
lint: ## Type-check, lint and check formatting.
	$(NPM) run typecheck
	$(NPM) run lint

.PHONY: fmt
fmt: ## Format the code.
	$(NPM) run format

##@ Testing

.PHONY: test
test: ## Run every test (starts a throwaway PostgreSQL).
	$(NPM) test

.PHONY: ci
ci: ## What CI runs on a fresh machine: install, type-check, lint, test.
	bash .ci/run

.PHONY: bench
bench: ## Run the benchmarks under bench/ (prints ratios).
	$(NPM) run bench
