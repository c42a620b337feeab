// Public surface of the default guest: building it, booting it, talking to it, picking the accelerator.
export {
  type GuestAgentListener,
  type GuestQemuArgsOptions,
  guestQemuArgs,
  listenGuestAgent,
} from './agent-channel.js';
export {
  GuestAgentClient,
  type GuestAgentClientOptions,
  type GuestCallOptions,
  type GuestEventWaitOptions,
  type GuestReadyOptions,
} from './agent-client.js';
export {
  type GuestManifest,
  type GuestSetupResult,
  guestManifestPath,
  readGuestManifest,
  type SetupGuestOptions,
  setupGuest,
} from './build.js';
export { runSetupCheck, VIRTIOFSD_PATH } from './check.js';
export { type GuestCmdlineOptions, guestKernelCmdline } from './cmdline.js';
export {
  GuestAgentClosedError,
  GuestAgentReplyError,
  GuestAgentTimeoutError,
  GuestBuildError,
  GuestEventTimeoutError,
  GuestPrerequisiteError,
  GuestProtocolError,
  GuestRequestInvalidError,
} from './errors.js';
export {
  type Accelerator,
  type AcceleratorProbe,
  type ProbeOptions,
  probeAccelerator,
  probeAcceleratorDetails,
} from './kvm-probe.js';
export { type GuestArtifacts, type GuestFlavour, guestArtifacts, guestCacheDir } from './paths.js';
export * from './protocol.js';
