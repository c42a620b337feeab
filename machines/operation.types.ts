// Modifying operations of a running sandbox as plain data (no I/O, no classes).
//
// The sandbox machine is generic over these: it only queues them, runs them one at a time through the
// `runOperation` actor and reports their phases. The hotplug/resize layer (src/) interprets them.
// Fields beyond `kind` are refined by the hotplug work (issue 5); keep them JSON-serializable.

/** A block device hot-plugged as virtio-blk, virtio-scsi (`scsi-hd`), nvdimm or CCW. */
export interface HotplugBlockOperation {
  readonly kind: 'hotplug-block';
  /** Device id, unique within the sandbox (QEMU `id=`). */
  readonly id: string;
  /** Host file or block device backing the disk. */
  readonly file: string;
  readonly format?: 'raw' | 'qcow2';
  readonly driver?: 'virtio-blk' | 'virtio-scsi' | 'nvdimm' | 'virtio-blk-ccw';
  readonly readOnly?: boolean;
  readonly shareRw?: boolean;
  readonly cache?: { readonly direct?: boolean; readonly noFlush?: boolean };
}

/** A vhost-user-blk device backed by a vhost-user socket. */
export interface HotplugVhostUserBlkOperation {
  readonly kind: 'hotplug-vhost-user-blk';
  readonly id: string;
  /** Path of the vhost-user backend's Unix socket. */
  readonly socketPath: string;
}

/** A virtio-net NIC on existing tap devices (fds passed with SCM_RIGHTS). */
export interface HotplugNetOperation {
  readonly kind: 'hotplug-net';
  readonly id: string;
  /** Tap interface name (the layer above opens the queues). */
  readonly ifname: string;
  readonly mac?: string;
  readonly queues?: number;
}

/** A VFIO device (physical function or mediated device). */
export interface HotplugVfioOperation {
  readonly kind: 'hotplug-vfio';
  readonly id: string;
  /** Host BDF such as `0000:01:00.0`, or a mediated device sysfs path. */
  readonly host: string;
}

/** Removal of a previously hot-plugged device (device_del → DEVICE_DELETED → backend removal). */
export interface UnplugOperation {
  readonly kind: 'unplug';
  readonly id: string;
}

/** Resize guest memory to a total in MiB (pc-dimm or virtio-mem). */
export interface ResizeMemoryOperation {
  readonly kind: 'resize-memory';
  readonly mib: number;
}

/** Resize the number of online vCPUs. */
export interface ResizeVcpusOperation {
  readonly kind: 'resize-vcpus';
  readonly count: number;
}

/** Save the VM as a template (migrate to file), as the seeds' template factory does. */
export interface SaveTemplateOperation {
  readonly kind: 'save-template';
  readonly statePath: string;
  readonly memoryPath?: string;
}

/** Dump guest memory to a file (dump-guest-memory). */
export interface DumpOperation {
  readonly kind: 'dump';
  readonly path: string;
  readonly paging?: boolean;
}

/** Every modifying operation the sandbox machine serializes. */
export type SandboxOperation =
  | HotplugBlockOperation
  | HotplugVhostUserBlkOperation
  | HotplugNetOperation
  | HotplugVfioOperation
  | UnplugOperation
  | ResizeMemoryOperation
  | ResizeVcpusOperation
  | SaveTemplateOperation
  | DumpOperation;

/** The discriminant of {@link SandboxOperation}. */
export type SandboxOperationKind = SandboxOperation['kind'];
