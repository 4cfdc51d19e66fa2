SHELL := /bin/bash
NPM ?= npm

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Try it

.PHONY: demo
demo: ## Install what is missing, then migrate and roll back a sample app on a local control plane with a real PostgreSQL.
	$(NPM) run demo

.PHONY: e2e
e2e: ## The kubectl-driven end-to-end scenarios: on a kind cluster where Docker and kind are there, else locally.
	@if command -v kind >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  $(MAKE) e2e-kind; \
	else \
	  echo "no Docker engine or no kind: running the e2e scenarios on the local control plane"; \
	  $(MAKE) e2e-local; \
	fi

.PHONY: e2e-local
e2e-local: ## The e2e scenarios on the local control plane (what CI runs).
	$(NPM) test -- test/e2e

.PHONY: e2e-kind
e2e-kind: ## The same e2e scenarios on a kind cluster: builds and loads the image (KEEP_CLUSTER=1 keeps it).
	bash scripts/e2e-kind.sh

##@ Deployment

INSTALLER ?= dist/install.yaml
# The operator image the installer runs (config/manager names schemaops:latest).
IMG ?= schemaops:latest

.PHONY: build-installer
build-installer: ## Write config/default as one manifest, $(INSTALLER), with the image IMG (default schemaops:latest).
	@mkdir -p "$(dir $(INSTALLER))"
	set -o pipefail; kubectl kustomize config/default | sed 's|image: schemaops:latest$$|image: $(IMG)|' > "$(INSTALLER)"
	@echo "wrote $(INSTALLER); install with: kubectl apply --server-side -f $(INSTALLER)"

##@ Development

.PHONY: install
install: ## Install what the tests need: apt packages if missing, npm packages (Node 24 among them), helm, the local cluster.
	bash scripts/setup.sh >/dev/null

.PHONY: kube
kube: ## Build kube-apiserver, controller-manager, scheduler and etcd for the local cluster (once per machine).
	bash scripts/build-kube.sh

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
