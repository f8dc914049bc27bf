#!/usr/bin/env bash
# CI-only: a stand-in for Docker Hub, for BuildKit running in a container. Learners never run this.
#
# buildx's docker-container builder (lesson 13, lab 20) resolves `FROM python:3.13-slim` as
# docker.io/library/python:3.13-slim in a registry; it never reads this Docker Engine's images.
# Docker Hub is unreachable here, so this starts a registry on 127.0.0.1:5003 (container
# ckalab-ci-docker-hub) and pushes each base-image stand-in into it as one index of its linux/amd64
# image (the one in the Docker Engine) and its linux/arm64 one (stand-in/NAME:TAG-linux-arm64,
# from `make base-images`), and the SBOM scanner BuildKit runs (from `make tool-images`). It then writes a buildkitd.toml that makes docker.io's mirror that
# registry, and prints `export CKALAB_BUILDKITD_CONFIG=...`: the course creates its builder with it.
#
# Prints the environment to use as `export` lines on stdout; everything else goes to stderr.
set -euo pipefail
STATE=${CKALAB_CI_STATE:-/var/cache/ckalab/ci}
NAME=ckalab-ci-docker-hub
PORT=5003
HUB=127.0.0.1:$PORT
IMAGES=(debian:trixie-slim python:3.13-slim)      # library/ images, each an index of amd64 and arm64
TOOLS=(docker/buildkit-syft-scanner:stable-1)     # BuildKit runs these on the build platform only
say() { printf '%s\n' "$*" >&2; }
mkdir -p "$STATE"

if [ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" != true ]; then
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker run -d --name "$NAME" --restart=always -p "127.0.0.1:$PORT:5000" \
    -v ckalab-ci-docker-hub-data:/var/lib/registry registry:3 >/dev/null
fi
for _ in $(seq 1 30); do curl -fs "http://$HUB/v2/" >/dev/null && break; sleep 1; done
curl -fs "http://$HUB/v2/" >/dev/null || { docker logs --tail 20 "$NAME" >&2; say "the Docker Hub stand-in at $HUB did not answer"; exit 1; }

for image in "${IMAGES[@]}"; do
  repo=${image%%:*} tag=${image#*:}
  amd64="$HUB/library/$repo:$tag-linux-amd64" arm64="$HUB/library/$repo:$tag-linux-arm64"
  docker tag "$image" "$amd64"
  docker tag "stand-in/$repo:$tag-linux-arm64" "$arm64"
  docker push -q "$amd64" >&2 && docker push -q "$arm64" >&2
  docker buildx imagetools create -t "$HUB/library/$image" "$amd64" "$arm64" >/dev/null 2>&1 \
    || docker buildx imagetools create -t "$HUB/library/$image" "$amd64" "$arm64" >&2
  docker image rm "$amd64" "$arm64" >/dev/null
  say "docker.io/library/$image: $(docker buildx imagetools inspect "$HUB/library/$image" | grep -c 'Platform:') platforms at $HUB"
done

for image in "${TOOLS[@]}"; do
  docker tag "$image" "$HUB/$image" && docker push -q "$HUB/$image" >&2 && docker image rm "$HUB/$image" >/dev/null
  say "docker.io/$image: at $HUB"
done

config="$STATE/buildkitd.toml"
cat > "$config" <<EOF
# CI-only (.ci/hub-mirror.sh): Docker Hub is unreachable on this machine, and $HUB serves
# the stand-ins of its images.
[registry."docker.io"]
  mirrors = ["$HUB"]
[registry."$HUB"]
  http = true
EOF
echo "export CKALAB_BUILDKITD_CONFIG=$config"
