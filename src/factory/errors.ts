// Typed errors of the VM factory.
import { VmactorError } from '../errors/vmactor-error.js';

/** `createVmFactory` options are invalid (nothing was started). */
export class FactoryConfigError extends VmactorError {
  override readonly name = 'FactoryConfigError' as const;
  readonly code = 'ERR_FACTORY_CONFIG' as const;
}

/** `factory.get()` after `factory.close()`. */
export class FactoryClosedError extends VmactorError {
  override readonly name = 'FactoryClosedError' as const;
  readonly code = 'ERR_FACTORY_CLOSED' as const;
  constructor() {
    super('The VM factory is closed');
  }
}
