#!/usr/bin/env bash
# CI only: Podman keeps an image store of its own, and this VM cannot reach Docker Hub. The
# stand-in base images that `make base-images` built for Docker are copied into Podman's store,
# under the names Podman's short-name aliases resolve them to (python -> docker.io/library/python).
# On a learner's machine Podman pulls them from Docker Hub instead. Skipped while unchanged.
set -euo pipefail
for image in python:3.13-slim; do
  want=$(docker image inspect -f '{{.Id}}' "$image")
  have=$(podman image inspect -f '{{.Id}}' "docker.io/library/$image" 2>/dev/null || true)
  if [ "sha256:$have" = "$want" ]; then
    echo "podman: docker.io/library/$image is up to date (${want:7:12})"
  else
    # skopeo 1.9's docker-daemon: transport speaks Docker API 1.22, which Engine 28 refuses.
    docker save "$image" | podman load -q
  fi
done
