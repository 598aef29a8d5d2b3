# Shipping targets (issue 6): container image and Helm chart checks.
# Included by the Makefile: `include hack/ship.mk`.

IMG ?= ghcr.io/crmflow/crmflow:$(shell awk '/^appVersion:/ {gsub(/"/, "", $$2); print $$2}' charts/crmflow/Chart.yaml)
CONTAINER_TOOL ?= docker
PLATFORMS ?= linux/amd64,linux/arm64

##@ Ship

.PHONY: docker-build
docker-build: ## Build the manager image IMG with CONTAINER_TOOL (docker or podman).
	$(CONTAINER_TOOL) build --build-arg VERSION=$(IMG) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the manager image IMG.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: docker-buildx
docker-buildx: ## Build and push IMG for PLATFORMS with docker buildx.
	$(CONTAINER_TOOL) buildx build --platform=$(PLATFORMS) --build-arg VERSION=$(IMG) -t $(IMG) --push .

.PHONY: plugin
plugin: console ## Build the kubectl plugin into bin/kubectl-crmflow (put bin/ on PATH for `kubectl crmflow`).
	go build -o $(LOCALBIN)/kubectl-crmflow ./cmd/kubectl-crmflow

.PHONY: chart-lint
chart-lint: $(HELM) ## helm lint the chart with default and non-default values.
	$(HELM) lint --strict charts/crmflow
	$(HELM) lint --strict charts/crmflow -f test/chart/testdata/nondefault-values.yaml

.PHONY: test-chart
test-chart: $(HELM) control-plane ## Chart tests: render, sync with generated files, RBAC install on a real API server.
	go test $(GO_TEST_FLAGS) ./test/chart/...
