// VM templates: save a template VM, boot clones from it (Kata's qemu.go templating and factory `template`).
export { type TemplatePlanFacts, templateComparable, templatePlanFacts } from './config-hash.js';
export * from './errors.js';
export { followMigration, type MigrationProgress } from './migration.js';
export type { SaveTemplateOptions, SaveTemplateResult } from './save.js';
export {
  MEMORY_FILE,
  readTemplate,
  STATE_FILE,
  TEMPLATE_FILE,
  type Template,
  templatePaths,
} from './template-file.js';
