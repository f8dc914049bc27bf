#!/usr/bin/env bash
# Builds an offline stand-in for kind's node image kindest/node:v1.37.0, for machines that
# cannot pull it (the course's CI). Learners never need this: `make cluster` pulls the real,
# digest-pinned image.
#
# What it holds is what kind v0.33.0's own node image holds, built from the upstream projects
# at the versions kind v0.33.0 (images/base/Dockerfile, pkg/build/nodeimage) and kubeadm v1.37.0
# (cmd/kubeadm/app/constants) pin, fetched through the Go module proxy. The README's offline
# section lists each piece that comes from Debian instead, and why.
#
# Assembly is kind's own: `kind build node-image --type file` on a Kubernetes server tarball
# made here, over a locally built kindest/base image. kind side-loads every image it finds in
# the tarball's image archives and pulls the rest; nothing can be pulled here, so the add-on
# images (etcd, CoreDNS, pause, kindnetd, local-path-provisioner and its helper) ride in the
# kube-proxy archive.
#
# Idempotent: the node image carries a hash of every input (this script, scripts/node-image/).
# The two slow steps are cached apart, each keyed by its own inputs: the Go binaries under
# CKALAB_BUILD_CACHE (with Go's own build cache beneath), the Debian rootfs as a Docker image.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

NODE_IMAGE=${CKALAB_NODE_IMAGE:-kindest/node:v1.37.0}
CACHE=${CKALAB_BUILD_CACHE:-$([ "$(id -u)" = 0 ] && echo /var/cache/ckalab || echo "${XDG_CACHE_HOME:-$HOME/.cache}/ckalab")}

# Pinned versions, and where each pin was read.
KIND_MODULE=sigs.k8s.io/kind@v0.33.0
KUBERNETES_VERSION=v1.37.0                  # the node image's Kubernetes
BASE_IMAGE=docker.io/kindest/base:v20260820-69b56db7        # kind pkg/build/nodeimage/defaults.go
KINDNETD_IMAGE=docker.io/kindest/kindnetd:v20260820-69b56db7 # const_cni.go
PROVISIONER_IMAGE=docker.io/kindest/local-path-provisioner:v20260820-69b56db7 # const_storage.go
HELPER_IMAGE=docker.io/kindest/local-path-helper:v20260131-7181c60a           # const_storage.go
PAUSE_IMAGE=registry.k8s.io/pause:3.10      # sandbox_image in kind's images/base/files/etc/containerd/config.toml
ETCD_IMAGE=registry.k8s.io/etcd:3.7.0-0     # kubeadm constants.DefaultEtcdVersion
COREDNS_IMAGE=registry.k8s.io/coredns/coredns:v1.14.6 # kubeadm constants.CoreDNSVersion
CRICTL_MODULE=sigs.k8s.io/cri-tools/cmd/crictl@v1.36.0  # kind images/base: CRICTL_VERSION
COREDNS_MODULE=github.com/coredns/coredns@v1.14.6
# kind pins v0.0.34; the Go module proxy serves v0.0.30 as the newest (see the README).
PROVISIONER_MODULE=github.com/rancher/local-path-provisioner@v0.0.30
PAUSE_VERSION=3.10.2                         # k8s build/pause/Makefile TAG at v1.37.0
CONTAINERD_MODULE=github.com/containerd/containerd/v2@v2.3.4  # kind images/base: CONTAINERD_VERSION
RUNC_MODULE=github.com/opencontainers/runc@v1.4.3            # RUNC_VERSION
CNI_MODULE=github.com/containernetworking/plugins@v1.9.1      # CNI_PLUGINS_VERSION
# kind's base packages (images/base/Dockerfile), less nfs-common and open-iscsi (network storage
# for Kubernetes' e2e tests), plus busybox-static for the local-path helper image.
NODE_PACKAGES=systemd,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,e2fsprogs,bash,ca-certificates,curl,jq,procps,busybox-static
# kind's base is Debian 13 (trixie). systemd 256 and later refuse to boot on a cgroup v1 host,
# so on one (the course's CI VM) the rootfs is Debian 12, whose systemd 252 still supports it.
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then NODE_SUITE=trixie; else NODE_SUITE=bookworm; fi
DEBIAN_MIRROR=${CKALAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '== node image: %s (%ss)\n' "$*" "$SECONDS"; }
die() { printf 'build-node-image: %s\n' "$*" >&2; exit 1; }

for tool in docker go kind debootstrap gcc; do
  command -v "$tool" >/dev/null || die "$tool is missing. This script is for the course's offline CI; on a normal machine run \`make cluster\`, which pulls the real node image."
done
docker info >/dev/null 2>&1 || die "the Docker Engine does not answer; start it, then run \`make node-image\` again."
[ "$(id -u)" = 0 ] || die "debootstrap needs root; run \`sudo make node-image\`."

inputs=$( { cat "$self"; find scripts/node-image -type f | LC_ALL=C sort | xargs cat; } | sha256sum | cut -c1-16)
label=io.ckalab.node-image.inputs
if [ "$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$NODE_IMAGE" 2>/dev/null)" = "$inputs" ]; then
  log "$NODE_IMAGE is up to date (inputs $inputs)"
  exit 0
fi

key() { sha256sum | cut -c1-16; }
pins() { grep -E "^($1)=" "$self"; }
go_inputs=$( { pins 'KUBERNETES_VERSION|KIND_MODULE|[A-Z]+_MODULE|PAUSE_VERSION'
               find scripts/node-image -type f | LC_ALL=C sort | xargs cat; } | key)
bin="$CACHE/node-image/bin-$go_inputs"
work="$CACHE/node-image/work"
rm -rf "$work" && mkdir -p "$bin" "$work"
kind_src=$(cd scripts/node-image/kubernetes && go mod download -json "$KIND_MODULE" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$kind_src/images/base/files" ] || die "could not fetch $KIND_MODULE through the Go module proxy."

# ---------------------------------------------------------------- binaries (Go, cached)
export CGO_ENABLED=0 GOFLAGS=-trimpath
build_date=2026-08-26T10:44:20Z  # the v1.37.0 tag's time, as the Go module proxy reports it
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=37"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
kube_binaries=(kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)
missing=()
for b in "${kube_binaries[@]}"; do [ -x "$bin/$b" ] || missing+=("k8s.io/kubernetes/cmd/$b"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "building Kubernetes $KUBERNETES_VERSION: ${missing[*]##*/}"
  (cd scripts/node-image/kubernetes && go build -ldflags "$ldflags" -o "$bin/" "${missing[@]}")
fi
if [ ! -x "$bin/etcd" ]; then
  log "building etcd"
  (cd scripts/node-image/etcd && go build -ldflags "-s -w" -o "$bin/etcd" .)
fi
if [ ! -x "$bin/kindnetd" ]; then
  log "building the kindnetd stand-in"
  (cd scripts/node-image/kindnetd && go build -ldflags "-s -w" -o "$bin/kindnetd" .)
fi
go_install() {  # binary module@version [ldflags]
  [ -x "$bin/$1" ] && return 0
  log "building $2"
  GOBIN="$bin" go install -ldflags "-s -w ${3:-}" "$2"
}
go_install crictl "$CRICTL_MODULE" "-X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_MODULE##*@}"
if [ ! -x "$bin/coredns" ]; then
  log "building $COREDNS_MODULE with the plugins of kubeadm's Corefile"
  grep -q "github.com/coredns/coredns ${COREDNS_MODULE##*@}" scripts/node-image/coredns/go.mod \
    || die "scripts/node-image/coredns/go.mod must require $COREDNS_MODULE, the version pinned here"
  (cd scripts/node-image/coredns && go build -ldflags "-s -w" -o "$bin/coredns" .)
fi
go_install local-path-provisioner "$PROVISIONER_MODULE" "-X main.VERSION=${PROVISIONER_MODULE##*@}"
containerd_pkg=${CONTAINERD_MODULE%@*} containerd_version=${CONTAINERD_MODULE##*@}
if [ ! -x "$bin/containerd" ]; then
  log "building containerd $containerd_version"
  GOBIN="$bin" go install -tags "no_aufs no_zfs no_btrfs no_devmapper" \
    -ldflags "-s -w -X $containerd_pkg/version.Version=$containerd_version" \
    "$containerd_pkg/cmd/containerd@$containerd_version" "$containerd_pkg/cmd/ctr@$containerd_version" \
    "$containerd_pkg/cmd/containerd-shim-runc-v2@$containerd_version"
fi
if [ ! -x "$bin/runc" ]; then
  log "building runc ${RUNC_MODULE##*@} (cgo, seccomp, static)"
  CGO_ENABLED=1 GOBIN="$bin" go install -tags "seccomp urfave_cli_no_docs" \
    -ldflags "-s -w -extldflags -static" "$RUNC_MODULE"
fi
if [ ! -x "$bin/ptp" ]; then
  log "building CNI plugins ${CNI_MODULE##*@}"
  cni=${CNI_MODULE%@*} v=${CNI_MODULE##*@}
  GOBIN="$bin" go install -ldflags "-s -w" "$cni/plugins/ipam/host-local@$v" "$cni/plugins/main/loopback@$v" \
    "$cni/plugins/main/ptp@$v" "$cni/plugins/meta/portmap@$v"
fi
if [ ! -x "$bin/pause" ]; then
  log "building pause $PAUSE_VERSION"
  kube_src=$(cd scripts/node-image/kubernetes && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-0" -o "$bin/pause" "$kube_src/build/pause/linux/pause.c"
fi

# ---------------------------------------------------------------- node rootfs (Debian sid, cached)
rootfs_image="ckalab/kind-base-rootfs:$NODE_SUITE-$( { pins 'NODE_PACKAGES|DEBIAN_MIRROR'; echo "$NODE_SUITE"; } | key)"
if ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
  log "debootstrap $NODE_SUITE with kind's base packages"
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include="$NODE_PACKAGES" "$NODE_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; die "debootstrap failed; its log is $work/debootstrap.log."; }
  # What kind's clean-install removes after installing packages.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
         "$rootfs"/usr/share/man/* "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/*
  tar -C "$rootfs" --numeric-owner -c . | docker import - "$rootfs_image" >/dev/null
  rm -rf "$rootfs"
fi

# ---------------------------------------------------------------- images
context="$work/context"
rm -rf "$context" && mkdir -p "$context"
cp "$bin"/* "$context/"
# kind's base-image files, with the modes kind's Dockerfile gives them.
cp -r "$kind_src/images/base/files" "$context/files"
chmod -R u+w "$context/files"
find "$context/files" -type d -exec chmod 0755 {} +
find "$context/files" -type f -exec chmod 0644 {} +
chmod 0755 "$context"/files/usr/local/bin/* "$context"/files/kind/bin/*

build() {  # image, then the Dockerfile on stdin
  log "image $1"
  docker build -q --label "$label=$inputs" -t "$1" -f - "$context" >/dev/null
}

build "$BASE_IMAGE" <<DOCKERFILE
FROM $rootfs_image AS build
COPY files/ /
# The rest of kind's images/base Dockerfile: trim systemd for a container, enable the services.
RUN find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\
    && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
       /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
       /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
    && ln -sf /usr/lib/systemd/systemd /sbin/init \\
    && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
    && systemctl mask systemd-binfmt.service \\
    && mkdir -p /etc/kubernetes/manifests
# containerd, runc and the CNI plugins where kind's Dockerfile puts them.
COPY containerd ctr containerd-shim-runc-v2 crictl /usr/local/bin/
COPY runc /usr/local/sbin/runc
COPY host-local loopback ptp portmap /opt/cni/bin/
RUN ctr oci spec \\
       | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
       | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\
    && containerd --version && runc --version
FROM scratch
COPY --from=build / /
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
DOCKERFILE

scratch_image() {  # image, binary, path in the image
  build "$1" <<DOCKERFILE
FROM scratch
COPY $2 $3
ENV PATH=/usr/local/bin:/usr/bin:/bin
ENTRYPOINT ["$3"]
DOCKERFILE
}
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  scratch_image "registry.k8s.io/$b:$KUBERNETES_VERSION" "$b" "/usr/local/bin/$b"
done
scratch_image "$ETCD_IMAGE" etcd /usr/local/bin/etcd
scratch_image "$COREDNS_IMAGE" coredns /coredns
scratch_image "$PAUSE_IMAGE" pause /pause
scratch_image "$KINDNETD_IMAGE" kindnetd /bin/kindnetd
scratch_image "$PROVISIONER_IMAGE" local-path-provisioner /usr/local/bin/local-path-provisioner
# kube-proxy programs iptables and conntrack, so its image carries them (Debian's, as on the node).
build "registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" <<DOCKERFILE
FROM $rootfs_image
COPY kube-proxy /usr/local/bin/kube-proxy
DOCKERFILE
# The helper Pod runs sh, mkdir and rm: busybox provides them.
build "$HELPER_IMAGE" <<DOCKERFILE
FROM $rootfs_image AS busybox
FROM scratch
COPY --from=busybox /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
DOCKERFILE

# ---------------------------------------------------------------- Kubernetes server tarball
log "server tarball"
tree="$work/tarball/kubernetes"
rm -rf "$work/tarball" && mkdir -p "$tree/server/bin"
echo "$KUBERNETES_VERSION" > "$tree/version"
cp "$bin/kubelet" "$bin/kubeadm" "$bin/kubectl" "$tree/server/bin/"
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  docker save -o "$tree/server/bin/$b.tar" "registry.k8s.io/$b:$KUBERNETES_VERSION"
done
# kind takes an archive's image names from its first metadata file: all of them from a
# `repositories` file, only the first image's from manifest.json. docker save writes short names
# (kindest/kindnetd) and puts manifest.json first, so the archive is repacked with a
# `repositories` file of full names in front.
addons=("registry.k8s.io/kube-proxy:$KUBERNETES_VERSION" "$ETCD_IMAGE" "$COREDNS_IMAGE" "$PAUSE_IMAGE"
        "$KINDNETD_IMAGE" "$PROVISIONER_IMAGE" "$HELPER_IMAGE")
pack="$work/pack"
mkdir -p "$pack"
docker save "${addons[@]}" | tar -C "$pack" -x
python3 - "$pack/repositories" "${addons[@]}" <<'PY'
import json, sys
repositories = {}
for image in sys.argv[2:]:
    name, tag = image.rsplit(":", 1)
    repositories.setdefault(name, {})[tag] = "unused-by-kind-and-ctr"
json.dump(repositories, open(sys.argv[1], "w"))
PY
(cd "$pack" && tar -cf "$tree/server/bin/kube-proxy.tar" repositories manifest.json $(ls | grep -vxE 'repositories|manifest.json'))
rm -rf "$pack"
tar -C "$work/tarball" -cf - kubernetes | pigz -1 > "$work/kubernetes-server-linux-amd64.tar.gz"
rm -rf "$work/tarball"

log "kind build node-image"
kind build node-image --type file "$work/kubernetes-server-linux-amd64.tar.gz" \
  --base-image "$BASE_IMAGE" --image "$NODE_IMAGE"
rm -f "$work/kubernetes-server-linux-amd64.tar.gz"
rm -rf "$work"
docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$NODE_IMAGE" | grep -qx "$inputs" \
  || die "kind built $NODE_IMAGE, but it lacks the inputs label; the base image's labels did not carry over."
# Binaries of older inputs are not needed again.
find "$CACHE/node-image" -mindepth 1 -maxdepth 1 -name 'bin-*' -not -name "bin-$go_inputs" -exec rm -rf {} +
log "$NODE_IMAGE built (inputs $inputs)"
