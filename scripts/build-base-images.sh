#!/usr/bin/env bash
# Build stand-ins for the base images the course uses, from Debian packages, for
# machines that cannot reach Docker Hub (like the course's own CI machine).
# Learners with internet never need this: `docker pull` gets the real images.
#
#   debian:trixie-slim  <- debootstrap (minbase) of Debian 13
#   python:3.13-slim    <- Debian 13's python3 (3.13) on top of it
#   python:3.13         <- that plus the packages of buildpack-deps:trixie (the full variant)
#   registry:3          <- Debian's docker-registry package (distribution 2.8.x)
#   stand-in/debian:trixie-slim-linux-arm64
#                       <- the same for linux/arm64 (debootstrap --arch arm64, under QEMU)
#   stand-in/python:3.13-slim-linux-arm64
#                       <- Debian 13's arm64 python3 packages unpacked onto it, without emulation
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
step() { printf '== base images: %s (%ss)\n' "$*" "$SECONDS"; }

# A debootstrap (minbase) of Debian 13 for one architecture, imported as IMAGE with the official
# image's apt and dpkg settings.
debian_slim() {  # arch image
  local arch=$1 image=$2 rootfs="$work/trixie-rootfs-$1"
  command -v debootstrap >/dev/null || { echo "build-base-images: install debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  step "$image: debootstrap --arch $arch into $rootfs"
  # ca-certificates' maintainer script runs a program per certificate, which under QEMU takes
  # minutes: the arm64 one gets the host's bundle file instead of the package.
  local include=ca-certificates
  [ "$arch" = amd64 ] || include=""
  debootstrap --arch "$arch" --variant=minbase ${include:+--include=$include} trixie "$rootfs" "$mirror" >"$work/debootstrap-$arch.log" 2>&1 \
    || { tail -20 "$work/debootstrap-$arch.log" >&2; exit 1; }
  if [ -f /etc/ssl/certs/ca-certificates.crt ] && [ -n "$include" ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/ca-certificates/host-bundle.crt"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1 || true
  elif [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
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
  tar -C "$rootfs" -c . | docker import --platform "linux/$arch" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change 'LABEL io.ckalab.stand-in="debootstrap minbase of Debian 13 (trixie)"' \
    --change "LABEL $label=$inputs" \
    - "$image"
  rm -rf "$rootfs"
}

# ---------------------------------------------------------------- linux/arm64 variants
# Lesson 13 and lab 20 build for linux/amd64 and linux/arm64 with a docker-container builder,
# which reads its base images from a registry, never from this Docker Engine (.ci/hub-mirror.sh
# serves each name as one index of both). The classic image store keeps one platform per name,
# so the arm64 variants are kept under stand-in/NAME:TAG-linux-arm64.
ARM64_DEBIAN=stand-in/debian:trixie-slim-linux-arm64
ARM64_PYTHON=stand-in/python:3.13-slim-linux-arm64

# debootstrap's second stage runs arm64 programs: register Debian's qemu-user-static for aarch64
# in binfmt_misc for as long as that takes, unless the host already emulates arm64, and remove
# only what was registered here.
binfmt=/proc/sys/fs/binfmt_misc
registered_here=""
release_arm64_emulation() {
  if [ -n "$registered_here" ] && [ -e "$binfmt/qemu-aarch64" ]; then echo -1 > "$binfmt/qemu-aarch64"; fi
  registered_here=""
}
with_arm64_emulation() {
  [ -e "$binfmt/status" ] || mount -t binfmt_misc binfmt_misc "$binfmt" 2>/dev/null \
    || { echo "build-base-images: binfmt_misc is not mounted and cannot be (mount -t binfmt_misc binfmt_misc $binfmt, as root)" >&2; exit 1; }
  if ! grep -qs '^enabled' "$binfmt/qemu-aarch64"; then
    [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ] \
      || { echo "build-base-images: arm64 stand-ins need QEMU user emulation: install qemu-user-static" >&2; exit 1; }
    cat /usr/lib/binfmt.d/qemu-aarch64.conf > "$binfmt/register"
    registered_here=1
    trap release_arm64_emulation EXIT
  fi
}

# The arm64 debootstrap runs under QEMU on one core, for minutes: it starts first, in the
# background, and the amd64 images build beside it.
arm64_debootstrap=""
if ! have "$ARM64_DEBIAN"; then
  with_arm64_emulation
  (debian_slim arm64 "$ARM64_DEBIAN") &
  arm64_debootstrap=$!
fi

if have debian:trixie-slim; then
  echo "debian:trixie-slim: up to date (inputs $inputs)"
else
  debian_slim amd64 debian:trixie-slim
fi

if have python:3.13-slim; then
  echo "python:3.13-slim: up to date (inputs $inputs)"
else
  step "python:3.13-slim"
  docker build -q --label "$label=$inputs" -t python:3.13-slim "$here/base-images/python"
fi

if have python:3.13; then
  echo "python:3.13: up to date (inputs $inputs)"
else
  step "python:3.13"
  docker build -q --label "$label=$inputs" -t python:3.13 "$here/base-images/python-full"
fi

if have registry:3; then
  echo "registry:3: up to date (inputs $inputs)"
else
  step "registry:3"
  docker build -q --label "$label=$inputs" -t registry:3 "$here/base-images/registry"
fi

if [ -n "$arm64_debootstrap" ]; then
  wait "$arm64_debootstrap" || { echo "build-base-images: the arm64 debootstrap failed (its log: $work/debootstrap-arm64.log)" >&2; exit 1; }
  release_arm64_emulation
fi
if have "$ARM64_PYTHON"; then
  echo "$ARM64_PYTHON: up to date (inputs $inputs)"
else
  step "$ARM64_PYTHON"
  # Python's packages are fetched and unpacked by this machine's apt and dpkg-deb, on the arm64
  # stand-in, with no emulation: under QEMU, apt and Python's byte-compiling took seven minutes.
  docker build -q --platform linux/arm64 --build-arg "TARGET_IMAGE=$ARM64_DEBIAN" \
    --label "$label=$inputs" -t "$ARM64_PYTHON" "$here/base-images/python-arm64"
fi

step "done"
docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^(debian:trixie-slim|python:3.13-slim|python:3.13|registry:3|stand-in/.*-linux-arm64) '
