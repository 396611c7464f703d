/** Pieces of the event JSON wire form shared by BaseEvent.toJSON() and stringifyEvent(). Not exported from the package. */

/** Keys of the header fields, in the order BaseEvent sets them and JSON has them; the type's fields follow. */
export const HEADER_ORDER = ['type', 'time', 'ts', 'host', 'container', 'cgroupId', 'pid', 'tid', 'comm'] as const;
export const HEADER_KEYS: ReadonlySet<string> = new Set(HEADER_ORDER);

/** bigint becomes a decimal string (JSON has no 64-bit integers); Dates become ISO strings. */
export function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v !== null && typeof v === 'object' && !(v as { toJSON?: unknown }).toJSON) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = jsonValue(x);
    return o;
  }
  return v;
}
