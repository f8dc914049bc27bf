#!/usr/bin/env bash
# Build stand-ins for the base images the course uses, from Debian packages, for
# machines that cannot reach Docker Hub (like the course's own CI machine).
# Learners with internet never need this: `docker pull` gets the real images.
#
#   debian:trixie-slim  <- debootstrap (minbase) of Debian 13
#   python:3.13-slim    <- Debian 13's python3 (3.13) on top of it
#   python:3.13         <- that plus the packages of buildpack-deps:trixie (the full variant)
#   registry:3          <- Debian's docker-registry package (distribution 2.8.x)
#
# The host's CA bundle is added to the stand-ins so builds can reach PyPI through
# a TLS-inspecting proxy. Each stand-in carries a label with a hash of this script and
# scripts/base-images/: it is rebuilt when that changes, and kept otherwise (FORCE=1 rebuilds).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${BASE_IMAGE_WORKDIR:-$here/../build/base-images}
label=io.ckalab.base-image.inputs
inputs=$( { cat "$0"; echo "$mirror"; find "$here/base-images" -type f | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16)

have() {
  [ -z "${FORCE:-}" ] && [ "$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null)" = "$inputs" ]
}

command -v docker >/dev/null || { echo "build-base-images: docker is not installed" >&2; exit 1; }
mkdir -p "$work"

if have debian:trixie-slim; then
  echo "debian:trixie-slim: up to date (inputs $inputs)"
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
  # The apt and dpkg settings of the official image (debuerreotype's minimizing config): apt
  # deletes what it downloaded after each install, keeps its lists compressed, and fetches no
  # translations. Without them every image built on the stand-in would carry apt's downloads.
  printf '%s\n' \
    'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache "";' 'Dir::Cache::srcpkgcache "";' > "$rootfs/etc/apt/apt.conf.d/docker-clean"
  echo 'Acquire::GzipIndexes "true";' > "$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' > "$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
  echo 'force-unsafe-io' > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d" && chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  # debootstrap leaves the packages it installed in apt's cache; the official image has none.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change 'LABEL io.ckalab.stand-in="debootstrap minbase of Debian 13 (trixie)"' \
    --change "LABEL $label=$inputs" \
    - debian:trixie-slim
  rm -rf "$rootfs"
fi

if have python:3.13-slim; then
  echo "python:3.13-slim: up to date (inputs $inputs)"
else
  docker build -q --label "$label=$inputs" -t python:3.13-slim "$here/base-images/python"
fi

if have python:3.13; then
  echo "python:3.13: up to date (inputs $inputs)"
else
  docker build -q --label "$label=$inputs" -t python:3.13 "$here/base-images/python-full"
fi

if have registry:3; then
  echo "registry:3: up to date (inputs $inputs)"
else
  docker build -q --label "$label=$inputs" -t registry:3 "$here/base-images/registry"
fi
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^(debian:trixie-slim|python:3.13-slim|python:3.13|registry:3) '
