// The public API of vmactor: the one barrel.
export { VmactorError } from './errors/vmactor-error.js';
export type { GuestArtifacts, GuestFlavour } from './guest/paths.js';
export { guestArtifacts, guestCacheDir } from './guest/paths.js';
