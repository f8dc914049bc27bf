#!/usr/bin/env bash
# Build stand-ins for the two tool images lesson 13 and lab 20 run, for machines that cannot reach
# Docker Hub (the course's CI). Learners never need this: buildx and `docker run` pull the real ones.
#
#   moby/buildkit:buildx-stable-1  <- buildkitd and buildctl of BuildKit v0.34.2 and runc v1.5.2 (the
#                                     runc BuildKit's own Dockerfile pins), from the Go module proxy,
#                                     on debian:trixie-slim. buildx's docker-container driver runs it.
#   tonistiigi/binfmt:latest       <- scripts/tool-images/binfmt, a Go stand-in of the installer's
#                                     CLI, with Debian 13's static QEMU user-mode emulators.
#   docker/buildkit-syft-scanner:stable-1
#                                  <- scripts/tool-images/syft-scanner, BuildKit's SBOM generator
#                                     protocol over Syft v1.57.2's library (BuildKit pulls it from
#                                     a registry for `--sbom=true`: CI's Docker Hub stand-in serves it).
#
# Needs docker, go, gcc and libseccomp-dev (runc is built with cgo and seccomp, statically, as
# BuildKit builds it) and the debian:trixie-slim stand-in (`make base-images`). Each image carries
# a hash of its inputs and is rebuilt only when they change (FORCE=1 rebuilds); the Go binaries
# are cached under CKALAB_BUILD_CACHE.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

BUILDKIT_VERSION=v0.34.2   # scripts/tool-images/buildkit/go.mod pins the same
RUNC_MODULE=github.com/opencontainers/runc@v1.5.2   # BuildKit v0.34.2's Dockerfile: RUNC_VERSION
BUILDKIT_IMAGE=moby/buildkit:buildx-stable-1       # buildx v0.29's driver/bkimage DefaultImage
BINFMT_IMAGE=tonistiigi/binfmt:latest
SCANNER_IMAGE=docker/buildkit-syft-scanner:stable-1  # BuildKit v0.34.2 frontend/attestations: defaultSBOMGenerator
CACHE=${CKALAB_BUILD_CACHE:-$([ "$(id -u)" = 0 ] && echo /var/cache/ckalab || echo "${XDG_CACHE_HOME:-$HOME/.cache}/ckalab")}
label=io.ckalab.tool-image.inputs

die() { printf 'build-tool-images: %s\n' "$*" >&2; exit 1; }
for tool in docker go gcc; do
  command -v "$tool" >/dev/null || die "$tool is missing. This script is for machines without Docker Hub; elsewhere buildx pulls $BUILDKIT_IMAGE itself."
done
docker info >/dev/null 2>&1 || die "the Docker Engine does not answer; start it and run \`make tool-images\` again."
docker image inspect debian:trixie-slim >/dev/null 2>&1 || die "debian:trixie-slim is missing: run \`make base-images\` first."

inputs_of() { { cat "$self"; find "$@" -type f | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16; }
up_to_date() {  # image inputs
  [ -z "${FORCE:-}" ] && [ "$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$2" ]
}
export CGO_ENABLED=0 GOFLAGS=-trimpath
step() { printf '== tool images: %s (%ss)\n' "$*" "$SECONDS"; }

# ---------------------------------------------------------------- moby/buildkit
inputs=$(inputs_of scripts/tool-images/buildkit)
if up_to_date "$BUILDKIT_IMAGE" "$inputs"; then
  echo "$BUILDKIT_IMAGE: up to date (inputs $inputs)"
else
  bin="$CACHE/tool-images/buildkit-$inputs"
  mkdir -p "$bin"
  pkg=github.com/moby/buildkit
  if [ ! -x "$bin/buildkitd" ] || [ ! -x "$bin/buildctl" ]; then
    step "$BUILDKIT_IMAGE: building buildkitd and buildctl $BUILDKIT_VERSION"
    # The tags and version stamp of BuildKit's own Dockerfile.
    (cd scripts/tool-images/buildkit && go build -tags "osusergo netgo static_build seccomp" \
      -ldflags "-s -w -X $pkg/version.Version=$BUILDKIT_VERSION -X $pkg/version.Package=$pkg" \
      -o "$bin/" "$pkg/cmd/buildkitd" "$pkg/cmd/buildctl")
  fi
  if [ ! -x "$bin/runc" ]; then
    step "$BUILDKIT_IMAGE: building runc ${RUNC_MODULE##*@} (cgo, seccomp, static)"
    CGO_ENABLED=1 GOBIN="$bin" go install -tags "seccomp urfave_cli_no_docs" \
      -ldflags "-s -w -extldflags -static" "$RUNC_MODULE"
  fi
  src=$(cd scripts/tool-images/buildkit && go mod download -json "$pkg@$BUILDKIT_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -f "$src/hack/buildkitd-entrypoint" ] || die "could not read $pkg@$BUILDKIT_VERSION from the Go module proxy."
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp scripts/tool-images/buildkit/Dockerfile "$ctx/"
  cp "$bin/buildkitd" "$bin/buildctl" "$ctx/" && cp "$bin/runc" "$ctx/buildkit-runc"
  install -m 0755 "$src/hack/buildkitd-entrypoint" "$src/hack/with-cgroupfs-remount" "$ctx/"
  docker build -q --label "$label=$inputs" -t "$BUILDKIT_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  trap - EXIT
  step "$BUILDKIT_IMAGE: built ($(docker run --rm --entrypoint buildkitd "$BUILDKIT_IMAGE" --version))"
fi

# ---------------------------------------------------------------- tonistiigi/binfmt
inputs=$(inputs_of scripts/tool-images/binfmt)
if up_to_date "$BINFMT_IMAGE" "$inputs"; then
  echo "$BINFMT_IMAGE: up to date (inputs $inputs)"
else
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  (cd scripts/tool-images/binfmt && go build -ldflags "-s -w" -o "$ctx/binfmt" .)
  cp scripts/tool-images/binfmt/Dockerfile "$ctx/"
  docker build -q --label "$label=$inputs" -t "$BINFMT_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  trap - EXIT
  step "$BINFMT_IMAGE: built ($(docker run --rm "$BINFMT_IMAGE" --version 2>&1))"
fi

# ---------------------------------------------------------------- docker/buildkit-syft-scanner
inputs=$(inputs_of scripts/tool-images/syft-scanner)
if up_to_date "$SCANNER_IMAGE" "$inputs"; then
  echo "$SCANNER_IMAGE: up to date (inputs $inputs)"
else
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  step "$SCANNER_IMAGE: building the scanner over Syft (the first build takes a few minutes)"
  (cd scripts/tool-images/syft-scanner && go build -ldflags "-s -w" -o "$ctx/syft-scanner" .)
  cp scripts/tool-images/syft-scanner/Dockerfile "$ctx/"
  docker build -q --label "$label=$inputs" -t "$SCANNER_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  trap - EXIT
  step "$SCANNER_IMAGE: built"
fi
