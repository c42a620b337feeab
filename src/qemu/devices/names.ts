// The names of the QEMU objects behind a user device, one rule for cold and hot plug (hot plug's,
// from Kata's qemu.go: `hotplugAddBlockDevice` drive-, `hotplugNetDevice` net-, char- for vhost-user).

/** Block node of a disk (`-blockdev`/`blockdev-add` `node-name`): `drive-<id>` (≤ 31 bytes for ids ≤ 25). */
export function blockNodeName(id: string): string {
  return `drive-${id}`;
}

/** Netdev of a NIC (`-netdev`/`netdev_add` `id`): `net-<id>`. */
export function netdevId(id: string): string {
  return `net-${id}`;
}

/** Chardev of a vhost-user device or a console port (`-chardev`/`chardev-add` `id`): `char-<id>`. */
export function chardevId(id: string): string {
  return `char-${id}`;
}

/** Memory backend of an nvdimm disk (`memory-backend-file` `id`): `nvdimmbackmem-<id>`. */
export function nvdimmBackendId(id: string): string {
  return `nvdimmbackmem-${id}`;
}

/** Monitor fd name of the n-th tap fd of a hot-plugged NIC (`getfd`): `fd-<id>-<n>`. */
export function tapFdName(id: string, n: number): string {
  return `fd-${id}-${n}`;
}

/** Monitor fd name of the n-th vhost-net fd of a hot-plugged NIC (`getfd`): `vhostfd-<id>-<n>`. */
export function vhostFdName(id: string, n: number): string {
  return `vhostfd-${id}-${n}`;
}
