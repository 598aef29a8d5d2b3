# syntax=docker/dockerfile:1.7
# crmflow manager image: built in a Go container with the module and build
# caches mounted, run on distroless static as UID 65532 (non-root).

ARG GO_VERSION=1.26.8
ARG NODE_VERSION=22

# The web console's assets (web/console, Vite), embedded into the manager by go:embed.
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS console
WORKDIR /src/web/console
COPY web/console/package.json web/console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/console/ ./
RUN npm run build

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /workspace

# Dependencies first, so a source change does not download modules again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY runner/ runner/
COPY internal/ internal/
COPY --from=console /src/internal/console/dist/ internal/console/dist/
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/manager .

FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.title="crmflow" \
      org.opencontainers.image.description="Kubernetes operator that automates CRM work from CloudEvents" \
      org.opencontainers.image.source="https://github.com/crmflow/crmflow" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /
COPY --from=builder /out/manager /manager
USER 65532:65532
EXPOSE 8080 8081 8082 9443
ENTRYPOINT ["/manager"]
