#!/usr/bin/env bash
# CI-only host preparation: the course's CI machine is a Debian 12 VM with no Docker Hub and no
# registry.k8s.io. Learners never run this; their Docker and kind come from the official installs.
#
#   1. Docker Engine 28.5 + buildx and kind 0.33.0 from Debian sid, pinned so that only the named
#      packages come from sid (bookworm's Docker 20.10 cannot start kind's privileged nodes here);
#   2. starts dockerd when nothing runs it (the VM has no systemd);
#   3. detects this VM's quirks and writes the kind config patches they need into
#      $CKALAB_CI_STATE/kind-extra.yaml (used through CKALAB_KIND_CONFIG_EXTRA), only when detected:
#        - cgroup v1: kubelet >= 1.35 refuses it unless failCgroupV1 is false;
#        - no CAP_SYS_RESOURCE in the bounding set: containerd must not raise oom_score_adj, and
#          Podman must not raise the containers' rlimits (a CI-only containers.conf, CONTAINERS_CONF).
#
# Prints the environment to use as `export` lines on stdout; everything else goes to stderr.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
STATE=${CKALAB_CI_STATE:-/var/cache/ckalab/ci}
mkdir -p "$STATE"
say() { printf '%s\n' "$*" >&2; }

SID_PACKAGES=(docker.io=28.5.2+dfsg4-5 docker-cli=28.5.2+dfsg4-5 docker-buildx=0.29.1+ds1-4 tini-static kind=0.33.0-1)
BOOKWORM_PACKAGES=(debootstrap pigz curl make python3-venv gcc libc6-dev libseccomp-dev chromium fonts-dejavu-core)
# Lesson 12: bookworm's Podman 4.3, Buildah 1.28 and skopeo 1.9, with what rootful and rootless
# runs need. uidmap brings the current bookworm point release of shadow's libsubid4, and with it
# that of passwd and login (the printed plan below shows it).
BOOKWORM_PACKAGES+=(podman buildah skopeo uidmap fuse-overlayfs slirp4netns netavark aardvark-dns catatonit)
# Lesson 13's arm64 base-image stand-ins: debootstrap --arch arm64 runs arm64 programs under
# bookworm's QEMU user emulation (make base-images registers it in binfmt_misc only while it builds).
BOOKWORM_PACKAGES+=(qemu-user-static)

sources=/etc/apt/sources.list.d/ckalab-ci-sid.sources
pin=/etc/apt/preferences.d/ckalab-ci-sid
if [ ! -f "$sources" ] || [ ! -f "$pin" ]; then
  cat > "$sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Below bookworm's 500: nothing comes from sid unless named with its version.
  cat > "$pin" <<'EOF'
Package: *
Pin: release n=sid
Pin-Priority: 100
EOF
  rm -f "$STATE/apt-updated"
fi

need_install=0
for p in "${SID_PACKAGES[@]}" "${BOOKWORM_PACKAGES[@]}"; do
  name=${p%%=*} want=${p#*=}
  have=$(dpkg-query -W -f '${Version}' "$name" 2>/dev/null || true)
  if [ -z "$have" ] || { [ "$want" != "$p" ] && [ "$have" != "$want" ]; }; then need_install=1; fi
done
if [ "$need_install" = 1 ]; then
  [ -f "$STATE/apt-updated" ] || { apt-get update -qq >&2; touch "$STATE/apt-updated"; }
  say "apt: what moves (only the named sid packages may come from sid):"
  apt-get install -s --no-install-recommends "${SID_PACKAGES[@]}" "${BOOKWORM_PACKAGES[@]}" | grep -E '^(Inst|Remv)' >&2 || true
  apt-get install -y -qq --no-install-recommends "${SID_PACKAGES[@]}" "${BOOKWORM_PACKAGES[@]}" >/dev/null
  # A daemon started from the old engine must be replaced by the new one.
  if pgrep -x dockerd >/dev/null && ! dockerd --version | grep -q ' 28\.'; then pkill -x dockerd; sleep 3; fi
fi

if ! docker info >/dev/null 2>&1; then
  pgrep -x dockerd >/dev/null && { pkill -x dockerd; sleep 3; }
  nohup dockerd >"$STATE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -30 "$STATE/dockerd.log" >&2; say "dockerd did not start"; exit 1; }
fi
say "docker: $(docker version --format 'client {{.Client.Version}}, engine {{.Server.Version}}'), $(docker buildx version)"
say "kind: $(kind version)"

# ---------------------------------------------------------------- VM quirks, detected
extra="$STATE/kind-extra.yaml"
: > "$extra"
cgroup_fs=$(stat -fc %T /sys/fs/cgroup)
bounding=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
cap_sys_resource=$(( (16#$bounding >> 24) & 1 ))
kubelet_patch="" containerd_patch=""
if [ "$cgroup_fs" != cgroup2fs ]; then
  say "quirk: /sys/fs/cgroup is $cgroup_fs (cgroup v1): kubelet gets failCgroupV1: false"
  kubelet_patch=1
fi
if [ "$cap_sys_resource" = 0 ]; then
  say "quirk: CAP_SYS_RESOURCE is not in the bounding set ($bounding): containerd gets restrict_oom_score_adj = true"
  containerd_patch=1
fi
if [ -n "$kubelet_patch" ]; then
  cat >> "$extra" <<'EOF'
kubeadmConfigPatches:
- |
  kind: KubeletConfiguration
  failCgroupV1: false
EOF
fi
if [ -n "$containerd_patch" ]; then
  cat >> "$extra" <<'EOF'
containerdConfigPatches:
- |-
  [plugins."io.containerd.grpc.v1.cri"]
    restrict_oom_score_adj = true
EOF
fi
if [ -s "$extra" ]; then
  echo "export CKALAB_KIND_CONFIG_EXTRA=$extra"
else
  say "no VM quirks detected: kind runs with the course's own config only"
fi

# Rootful Podman gives every container RLIMIT_NOFILE and RLIMIT_NPROC of 1048576; without
# CAP_SYS_RESOURCE runc may not raise them ("error setting rlimit type 7: operation not
# permitted"). Lowering a limit needs no capability, so CI's containers get 4096 of each.
if [ "$cap_sys_resource" = 0 ]; then
  conf="$STATE/containers.conf"
  cat > "$conf" <<'EOF'
# CI-only (written by .ci/prepare-host.sh): this VM lacks CAP_SYS_RESOURCE.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
EOF
  say "quirk: CAP_SYS_RESOURCE is missing: Podman containers get nofile/nproc 4096 (CONTAINERS_CONF=$conf)"
  echo "export CONTAINERS_CONF=$conf"
fi
