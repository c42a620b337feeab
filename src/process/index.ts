// The process layer: QEMU and virtiofsd children, exit watchers, run dirs, the stop ladder.

export type { AdoptedProcess } from './adopted-process.js';
export { adoptProcess, fileTail } from './adopted-process.js';
export * from './errors.js';
export type { ExitInfo, ExitWatch } from './exit.js';
export { watchExit } from './exit.js';
export type { FileFollower } from './follow-file.js';
export { followFile } from './follow-file.js';
export { checkNetns, inNetns } from './netns.js';
export type { OutputTee } from './output-tee.js';
export { OUTPUT_TAIL_BYTES, teeOutput } from './output-tee.js';
export type { PidfdBinding } from './pidfd.js';
export { pidfdBinding } from './pidfd.js';
export type { ProcFacts } from './proc-info.js';
export { isSameProcess, parseProcStat, procFacts } from './proc-info.js';
export type { PassedFd, QemuProcess, SpawnQemuOptions } from './qemu-process.js';
export { QMP_FD, spawnQemu, stdioFor } from './qemu-process.js';
export {
  assertSocketPath,
  assertUnder,
  createRunDir,
  defaultRunBase,
  removeRunDir,
  runDirFor,
} from './run-dir.js';
export type { StopOutcome, StopPolicy, Stoppable, StopRung } from './stop-ladder.js';
export { DEFAULT_STOP_POLICY, exitWithin, stopProcess } from './stop-ladder.js';
export type { LaunchVirtiofsdOptions, VirtiofsdProcess } from './virtiofsd-process.js';
export { launchVirtiofsd, withListenFd } from './virtiofsd-process.js';
export type { VsockCidLease } from './vsock-cid.js';
export { VSOCK_DIR, vsockCidLease } from './vsock-cid.js';
