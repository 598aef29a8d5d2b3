#!/usr/bin/env bash
# Builds golangci-lint with the Kube API Linter compiled in, from the Go module
# proxy. It does what `golangci-lint custom` (.custom-gcl.yml) does, except that
# `custom` git-clones golangci-lint's repository, which our machines cannot
# reach: here the source comes from the module proxy instead. The plugin is
# added to cmd/golangci-lint/plugins.go and `go get` pins it, so the binary is
# golangci-lint at GOLANGCI_LINT_VERSION with golangci-lint's own go.sum,
# plus kube-api-linter at KUBE_API_LINTER_VERSION.
#
# Usage: hack/build-golangci-lint.sh OUTPUT
# Env:   GOLANGCI_LINT_VERSION, KUBE_API_LINTER_VERSION (both required; the Makefile pins them)
set -euo pipefail

OUT="${1:?usage: hack/build-golangci-lint.sh OUTPUT}"
: "${GOLANGCI_LINT_VERSION:?}" "${KUBE_API_LINTER_VERSION:?}"
MODULE=github.com/golangci/golangci-lint/v2
PLUGIN=sigs.k8s.io/kube-api-linter

start=$SECONDS
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT

# The module's source as released (the same tree as the tag `custom` clones).
src="$(go mod download -json "$MODULE@$GOLANGCI_LINT_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
[[ -d "$src" ]] || { echo "no source for $MODULE@$GOLANGCI_LINT_VERSION" >&2; exit 1; }
cp -r "$src/." "$WORK/"
chmod -R u+w "$WORK"

cd "$WORK"
printf '\nimport _ "%s"\n' "$PLUGIN" >> cmd/golangci-lint/plugins.go
GOFLAGS=-mod=mod go get "$PLUGIN@$KUBE_API_LINTER_VERSION"
CGO_ENABLED=0 go build -trimpath -o "$OUT" \
  -ldflags "-s -w -X main.version=${GOLANGCI_LINT_VERSION#v} -X main.commit=$PLUGIN@$KUBE_API_LINTER_VERSION -X main.date=unknown" \
  ./cmd/golangci-lint
echo "$(basename "$OUT") built in $((SECONDS - start))s"
