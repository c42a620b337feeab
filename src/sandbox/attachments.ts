// What the sandbox layer attaches to a handle after it is built (state persister, reattach report,
// template facts, a clone's setup): one typed record on the handle instead of side tables.
import type { ReattachReport } from './attach.js';
import type { StatePersister } from './persist.js';
import type { TemplateVmFiles } from './template/boot.js';
import type { TemplatePlanFacts } from './template/config-hash.js';

/** @internal Filled by createSandbox / attachSandbox; read by detach, saveTemplate, the factory. */
export interface SandboxAttachments {
  /** Rewrites `state.json` on every change (persist.ts). */
  persister?: StatePersister;
  /** What attachSandbox reconciled (attach.ts). */
  reattach?: ReattachReport;
  /** The plan facts of a VM made to become a template (template/save.ts). */
  template?: TemplatePlanFacts & { readonly files: TemplateVmFiles };
  /** A clone's hot-adds, RNG reseed and clock sync after its first start (template/boot.ts). */
  cloneSetup?: Promise<void>;
}
