#!/usr/bin/env bash
# Installs the Debian packages vmactor needs (QEMU for every arch we plan for, virtiofsd,
# busybox-static and cpio for the default guest, iproute2 for network namespaces, chromium for the
# inspector's browser tests, containerd (with its ctr client and runc) for the runtime v2 shim tests).
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y \
  qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-misc qemu-system-common qemu-utils \
  qemu-efi-aarch64 ipxe-qemu busybox-static cpio iproute2 kmod xz-utils ca-certificates \
  chromium containerd
