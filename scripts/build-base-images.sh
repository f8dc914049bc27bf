#!/usr/bin/env bash
# Build stand-ins for the base images the course uses, from Debian packages, for
# machines that cannot reach Docker Hub (like the course's own CI machine).
# Learners with internet never need this: `docker pull` gets the real images.
#
#   debian:trixie-slim  <- debootstrap (minbase) of Debian 13
#   python:3.13-slim    <- Debian 13's python3 (3.13) on top of it
#   registry:3          <- Debian's docker-registry package (distribution 2.8.x)
#
# The host's CA bundle is added to the stand-ins so builds can reach PyPI through
# a TLS-inspecting proxy. Idempotent: images that exist are kept (FORCE=1 rebuilds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${BASE_IMAGE_WORKDIR:-$here/../build/base-images}

have() { [ -z "${FORCE:-}" ] && docker image inspect "$1" >/dev/null 2>&1; }

command -v docker >/dev/null || { echo "build-base-images: docker is not installed" >&2; exit 1; }

if have debian:trixie-slim; then
  echo "debian:trixie-slim: present"
else
  command -v debootstrap >/dev/null || { echo "build-base-images: install debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  rootfs="$work/trixie-rootfs"
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  echo "debian:trixie-slim: debootstrap into $rootfs ..."
  debootstrap --variant=minbase --include=ca-certificates trixie "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/ca-certificates/host-bundle.crt"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  fi
  echo "deb $mirror trixie main" > "$rootfs/etc/apt/sources.list"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change 'LABEL io.ckalab.stand-in="debootstrap minbase of Debian 13 (trixie)"' \
    - debian:trixie-slim
  rm -rf "$rootfs"
fi

if have python:3.13-slim; then
  echo "python:3.13-slim: present"
else
  docker build -q -t python:3.13-slim "$here/base-images/python"
fi

if have registry:3; then
  echo "registry:3: present"
else
  docker build -q -t registry:3 "$here/base-images/registry"
fi
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^(debian:trixie-slim|python:3.13-slim|registry:3) '
