#!/usr/bin/env bash
# Builds the control-plane binaries that envtest and the local start need
# (kube-apiserver, etcd, kubectl) from the Go module proxy, because the usual
# envtest download cannot be reached from our machines.
#
# Output: bin/k8s/<k8s-version>/{kube-apiserver,etcd,kubectl}. A second run
# finds them and returns at once. Pinned versions match go.mod's k8s.io/* libraries.
#
# Usage: hack/build-control-plane.sh [output-root]   (default: ./bin/k8s)
# Env:   K8S_VERSION (1.37.2), ETCD_VERSION (3.7.3)
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.7.3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT_ROOT="${1:-$ROOT/bin/k8s}"
OUT="$OUT_ROOT/$K8S_VERSION"
STAGING_VERSION="v0.${K8S_VERSION#1.}"

if [[ -x "$OUT/kube-apiserver" && -x "$OUT/etcd" && -x "$OUT/kubectl" ]]; then
  echo "control plane $K8S_VERSION already built in $OUT"
  exit 0
fi

# build_progress OUT PKG [go build flags...]: go build -v, printing a line
# every 100 packages compiled (with the elapsed time) instead of silence;
# compiler errors (lines with a space, unlike package paths) pass through.
build_progress() {
  local out="$1" pkg="$2"; shift 2
  local start=$SECONDS
  go build -v "$@" -o "$out" "$pkg" 2>&1 | awk -v name="$(basename "$out")" '
    / / { print; next }
    { n++; if (n % 100 == 0) { printf "  %s: %d packages compiled (%ds)\n", name, n, systime() - start0; fflush() } }
    BEGIN { start0 = systime() }'
  echo "  $(basename "$out") built in $((SECONDS - start))s"
}

mkdir -p "$OUT"
export CGO_ENABLED=0 GOFLAGS=-mod=mod
WORK="$OUT_ROOT/.build"
mkdir -p "$WORK/kubernetes" "$WORK/etcd"

# --- kube-apiserver and kubectl -------------------------------------------
# k8s.io/kubernetes points every staging module at ./staging/src; a module that
# depends on it must replace each of them with the published v0.x.y release.
modfile="$(cd "$WORK/kubernetes" && go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" |
  sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
{
  echo "module crmflow.local/controlplane"
  echo
  echo "go 1.26.0"
  echo
  echo "require k8s.io/kubernetes v$K8S_VERSION"
  echo
  echo "replace ("
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$modfile"
  echo ")"
} >"$WORK/kubernetes/go.mod"
cat >"$WORK/kubernetes/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=${K8S_VERSION%%.*} \
 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2) \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
(
  cd "$WORK/kubernetes"
  echo "resolving modules (go mod tidy; downloads on the first run)"
  go mod tidy
  echo "building kube-apiserver v$K8S_VERSION (first build takes several minutes; progress every 100 packages)"
  build_progress "$OUT/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver -trimpath -ldflags "$LDFLAGS"
  echo "building kubectl v$K8S_VERSION"
  build_progress "$OUT/kubectl" k8s.io/kubernetes/cmd/kubectl -trimpath -ldflags "$LDFLAGS"
)

# --- etcd ------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 is itself `package main`, but its go.mod has replace
# directives, so `go install pkg@version` refuses it; build it from a module.
cat >"$WORK/etcd/go.mod" <<MOD
module crmflow.local/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
MOD
cat >"$WORK/etcd/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
(
  cd "$WORK/etcd"
  echo "resolving modules (go mod tidy; downloads on the first run)"
  go mod tidy
  echo "building etcd v$ETCD_VERSION"
  build_progress "$OUT/etcd" go.etcd.io/etcd/server/v3 -trimpath -ldflags "-s -w"
)

rm -rf "$WORK"
"$OUT/kube-apiserver" --version
"$OUT/etcd" --version | sed -n 1p   # sed reads all: head would end the pipe early (SIGPIPE under pipefail)
echo "control plane ready in $OUT"
