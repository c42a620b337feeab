// QEMU option-value escaping: the one place commas are doubled.

/** Escapes a value for a QEMU `key=value,...` option string by doubling every comma. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** One `key=value` pair or a bare flag of a QEMU option string. */
export type OptionPart = readonly [key: string, value: string | number | boolean] | string;

/**
 * Joins option parts into `a=b,c=d`, escaping values; booleans become `on`/`off`.
 *
 * @example
 * formatOptions(['virtio-blk-pci', ['drive', 'd,1'], ['share-rw', true]])
 * // => 'virtio-blk-pci,drive=d,,1,share-rw=on'
 */
export function formatOptions(parts: readonly (OptionPart | undefined | false)[]): string {
  const out: string[] = [];
  for (const p of parts) {
    if (p === undefined || p === false) continue;
    if (typeof p === 'string') {
      out.push(escapeOptionValue(p));
      continue;
    }
    const [k, v] = p;
    const s = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
    out.push(`${k}=${escapeOptionValue(s)}`);
  }
  return out.join(',');
}
