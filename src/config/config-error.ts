// The one typed error for an invalid sandbox/hypervisor configuration.
import { VmactorError } from '../errors/vmactor-error.js';
import type { ConfigIssue } from './types.js';

/**
 * Thrown when a config is invalid; `issues` lists every problem found, each with a path such as
 * `hypervisor.memorySize` or `devices[2].file`.
 *
 * @example
 * try { validateConfig(input); } catch (e) { if (e instanceof ConfigError) console.log(e.issues); }
 */
export class ConfigError extends VmactorError {
  override readonly name = 'ConfigError' as const;
  readonly code = 'ERR_CONFIG_INVALID' as const;
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown; source?: string }) {
    const where = options?.source ? ` in ${options.source}` : '';
    const lines = issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
    super(
      `Invalid sandbox config${where} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines}`,
      options,
    );
    this.issues = issues;
  }
}
