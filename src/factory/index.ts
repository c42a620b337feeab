// The VM factory (Kata's factory/): template or direct base, a cache of ready VMs.
export * from './errors.js';
export { createVmFactory, type VmFactory, type VmFactoryOptions, type VmRequest } from './factory.js';
