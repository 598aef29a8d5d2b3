# crmflow — the usual kubebuilder targets, with every tool pinned and built
# from the Go module proxy into bin/ (never downloaded as a prebuilt binary).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Versions. K8S_VERSION matches the k8s.io/* libraries in go.mod (v0.37.x).
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.7.3
CONTROLLER_TOOLS_VERSION ?= v0.23.0
HELM_VERSION ?= v3.22.0
# golangci-lint with the Kube API Linter compiled in (hack/build-golangci-lint.sh).
GOLANGCI_LINT_VERSION ?= v2.15.0
KUBE_API_LINTER_VERSION ?= v0.0.0-20260716143926-092fe0c72997

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)-kal-$(lastword $(subst -, ,$(KUBE_API_LINTER_VERSION)))
KUBEBUILDER_ASSETS ?= $(LOCALBIN)/k8s/$(K8S_VERSION)
export KUBEBUILDER_ASSETS
# Tests that drive Helm find it here.
export HELM_BIN := $(HELM)

GO_TEST_FLAGS ?= -timeout 45m
# Each fuzz target runs this long in `make test` (beyond its seed corpus, which every go test runs).
FUZZ_TIME ?= 15s

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-22s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the API types and markers.
	$(CONTROLLER_GEN) rbac:roleName=crmflow-manager crd:allowDangerousTypes=false webhook paths="./..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook
	@if [ -d charts/crmflow ]; then mkdir -p charts/crmflow/crds && cp config/crd/bases/*.yaml charts/crmflow/crds/; fi

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when committed generated files are stale.
	@if [ -n "$$(git status --porcelain -- api config charts 2>/dev/null)" ]; then \
		echo "generated files are stale; run 'make manifests generate' and commit:"; \
		git status --porcelain -- api config charts; git --no-pager diff --stat -- api config charts; exit 1; fi

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -w $$(git ls-files '*.go')

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt check, go vet and golangci-lint (.golangci.yml; kube-api-linter on api/).
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...
	$(GOLANGCI_LINT) run ./...

.PHONY: verify-tidy
verify-tidy: ## Fail when go.mod or go.sum is not what `go mod tidy` makes.
	@go mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy' and commit"; exit 1; }

.PHONY: verify-chart
verify-chart: $(HELM) ## Fail when the chart drifted from config/ (CRDs, RBAC, webhooks) or a value is undocumented.
	go test -count=1 -run '^Test(CRDsMatchConfig|EveryValueDocumented|RBACMatchesMarkers|READMEListsTheClusterRole|WebhookPathsMatchMarkers)$$' ./test/chart/

.PHONY: verify
verify: verify-generated verify-tidy verify-chart lint ## Everything a commit must pass before the tests: generated files, go mod tidy, chart sync, lint.

.PHONY: control-plane
control-plane: ## Build kube-apiserver, etcd and kubectl for tests into bin/k8s/<version> (cached).
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/build-control-plane.sh $(LOCALBIN)/k8s

.PHONY: test
test: control-plane $(HELM) console verify ## Run every test: unit, envtest integration, end to end, bounded fuzzing.
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v '/test/fault$$')
	go test $(GO_TEST_FLAGS) -v ./test/fault/
	$(MAKE) fuzz

.PHONY: fuzz
fuzz: ## Fuzz template rendering, condition compilation and event parsing for FUZZ_TIME each.
	go test -run '^$$' -fuzz '^FuzzRenderTemplate$$' -fuzztime $(FUZZ_TIME) ./runner/template/
	go test -run '^$$' -fuzz '^FuzzCompileCondition$$' -fuzztime $(FUZZ_TIME) ./runner/expr/
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZ_TIME) ./controllers/intake/request/

# Test files that need an API server (envtest), Chromium, PostgreSQL, Helm or
# our built binaries start with `//go:build !unit`: the unit build leaves them
# out, every other build (make test, go test ./..., go vet, the linters) keeps them.
.PHONY: test-unit
test-unit: ## Run every pure test (no API server, browser, database, Helm or built binary): seconds.
	go test -tags unit ./...

##@ Build

# The console's single-page app (web/console), built with Vite from the
# committed package-lock.json into internal/console/dist, which go:embed
# embeds in the manager and the kubectl plugin. Never committed.
CONSOLE_DIST := internal/console/dist/index.html
CONSOLE_SRC := $(shell find web/console/src -type f 2>/dev/null) web/console/index.html web/console/vite.config.js

.PHONY: console
console: $(CONSOLE_DIST) ## Build the console's web assets (npm ci + vite build).

web/console/node_modules/.package-lock.json: web/console/package.json web/console/package-lock.json
	cd web/console && npm ci --no-audit --no-fund

$(CONSOLE_DIST): web/console/node_modules/.package-lock.json $(CONSOLE_SRC)
	cd web/console && npm run build

.PHONY: build
build: console ## Build the manager binary (with the console embedded).
	go build -o $(LOCALBIN)/manager .

# Flags for the local start, e.g. DEV_FLAGS='--start-timeout=20m --namespace=shop' (see bin/crmflow-dev --help).
DEV_FLAGS ?=

.PHONY: dev
# It builds the plugin too: the banner's `kubectl crmflow ...` lines need it on PATH.
dev: control-plane build plugin ## Start crmflow for real on this machine (local API server, CRDs, manager with webhooks, the kubectl plugin, samples); state in bin/dev/ survives restarts.
	@go build -o $(LOCALBIN)/crmflow-dev ./hack/dev
	@$(LOCALBIN)/crmflow-dev --root $(CURDIR) --plugin $(LOCALBIN)/kubectl-crmflow $(DEV_FLAGS)

.PHONY: dev-reset
dev-reset: ## Wipe the local start's state in bin/dev/ (etcd data, certificates, kubeconfig, logs).
	rm -rf $(LOCALBIN)/dev

include hack/ship.mk

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)

$(HELM):
	GOBIN=$(LOCALBIN) go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/helm $(HELM)

.PHONY: helm
helm: $(HELM) ## Build Helm into bin/.

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Install controller-gen into bin/.

# Not `go install`: the Kube API Linter is a module plugin, compiled into golangci-lint.
$(GOLANGCI_LINT):
	GOLANGCI_LINT_VERSION=$(GOLANGCI_LINT_VERSION) KUBE_API_LINTER_VERSION=$(KUBE_API_LINTER_VERSION) \
		hack/build-golangci-lint.sh $(GOLANGCI_LINT)

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint (with kube-api-linter) into bin/.
