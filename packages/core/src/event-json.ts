/**
 * The JSON text of an event: exactly `JSON.stringify(event)` (property-tested against it), built
 * without the intermediate object of `toJSON()`.
 *
 * Serialising is what an agent spends most of its time on (ndjson and Kafka sinks): ~2 µs per
 * event with JSON.stringify, a third of it re-serialising the same container object (id, name,
 * image, labels) for every event and another third building the toJSON() object. Here the
 * container's JSON is kept per container object, the ISO time per Date (events of one millisecond
 * share a Date, see KernelClock.dateFromParts), and the header is concatenated directly.
 */
import { BaseEvent, EVENT_SCHEMA_VERSION, type ContainerInfo, type IEvent } from './event.js';
import { HEADER_KEYS, HEADER_ORDER, jsonValue } from './json-value.js';

const BASE_TO_JSON = BaseEvent.prototype.toJSON;

/**
 * The cached text of a container object, valid while its fields are the same values. The
 * registry fills a bare-id entry in place by replacing fields, which this notices; a nested
 * object changed in place (e.g. `labels.x = ...`) is not noticed: replace it instead.
 */
interface ContainerText {
  json: string;
  id: string;
  name: unknown;
  image: unknown;
  imageId: unknown;
  labels: unknown;
  runtime: unknown;
}
const containerTexts = new WeakMap<ContainerInfo, ContainerText>();

function containerJSON(c: ContainerInfo): string {
  const t = containerTexts.get(c);
  if (t && t.id === c.id && t.name === c.name && t.image === c.image && t.imageId === c.imageId && t.labels === c.labels && t.runtime === c.runtime) {
    return t.json;
  }
  const json = JSON.stringify(c);
  containerTexts.set(c, { json, id: c.id, name: c.name, image: c.image, imageId: c.imageId, labels: c.labels, runtime: c.runtime });
  return json;
}

let lastTime: Date | null = null;
let lastTimeMs = Number.NaN;
let lastIso = '';

function isoOf(d: Date): string {
  const ms = d.getTime();
  if (d !== lastTime || ms !== lastTimeMs) {
    lastIso = d.toISOString();
    lastTime = d;
    lastTimeMs = ms;
  }
  return lastIso;
}

// JSON texts of short strings that repeat from event to event: keys, and the header's type, host
// and comm. JSON.stringify of a string costs ~80 ns (a serializer set up per call).
const quotedTexts = new Map<string, string>();

function quoted(k: string): string {
  let q = quotedTexts.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quotedTexts.size < 4096) quotedTexts.set(k, q);
  }
  return q;
}

// The decimal text of the last cgroup id (events come in runs from one container).
let lastCgroupId = -1n;
let lastCgroupText = '';

function cgroupText(id: bigint): string {
  if (id !== lastCgroupId) {
    lastCgroupId = id;
    lastCgroupText = id.toString();
  }
  return lastCgroupText;
}

// An event whose first keys are the header's, in order (every event built by createEvent or
// recordEvent), has its own fields after them: the loop starts there, without a Set lookup per key.
function ownFieldsStart(keys: string[]): number {
  for (let i = 0; i < HEADER_ORDER.length; i++) if (keys[i] !== HEADER_ORDER[i]) return 0;
  return HEADER_ORDER.length;
}

/** JSON text of one field value as toJSON() + JSON.stringify would give it; undefined = left out. */
function valueText(v: unknown): string | undefined {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return `"${v}"`;
    default:
      if (v === null) return 'null';
      if (Array.isArray(v)) return arrayText(v);
      return JSON.stringify(jsonValue(v));
  }
}

/** Arrays of strings and numbers (argv, flag names, syscall ids) directly; anything else in general. */
function arrayText(a: unknown[]): string | undefined {
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x === 'string') out += i === 0 ? JSON.stringify(x) : `,${JSON.stringify(x)}`;
    else if (typeof x === 'number') out += `${i === 0 ? '' : ','}${Number.isFinite(x) ? String(x) : 'null'}`;
    else return JSON.stringify(jsonValue(a));
  }
  return `${out}]`;
}

export interface StringifyEventOptions {
  /**
   * Leave `host` and `container` out (batch envelopes carry them once for all their events): the
   * text of JSON.stringify of toJSON() with those two set to undefined.
   */
  omitHostAndContainer?: boolean;
}

/** The general path: JSON.stringify of toJSON(), with the omissions asked for. */
function generalText(event: IEvent, omit: boolean): string {
  if (!omit) return JSON.stringify(event);
  const json = event.toJSON() as Record<string, unknown>;
  // Cheaper than delete (which turns the object into a slow dictionary); JSON skips undefined.
  json.host = undefined;
  json.container = undefined;
  return JSON.stringify(json);
}

/** `JSON.stringify(event)`, faster for events built by createEvent / BaseEvent subclasses. */
export function stringifyEvent(event: IEvent, options?: StringifyEventOptions): string {
  const omit = options?.omitHostAndContainer === true;
  if (!(event instanceof BaseEvent) || event.toJSON !== BASE_TO_JSON) return generalText(event, omit);
  const keys = Object.keys(event);
  // Integer-like keys would come first in JSON.stringify's order; odd header values take the
  // general path rather than a special case each.
  if (
    keys[0] !== 'type' ||
    typeof event.type !== 'string' ||
    !(event.time instanceof Date) ||
    typeof event.ts !== 'bigint' ||
    typeof event.host !== 'string' ||
    typeof event.cgroupId !== 'bigint' ||
    typeof event.pid !== 'number' ||
    typeof event.tid !== 'number' ||
    typeof event.comm !== 'string'
  ) {
    return generalText(event, omit);
  }
  const c = event.container;
  if (c === undefined || (c !== null && typeof c.id !== 'string')) return generalText(event, omit);
  let fields = '';
  for (let i = ownFieldsStart(keys); i < keys.length; i++) {
    const key = keys[i]!;
    if (HEADER_KEYS.has(key)) continue; // only when the header keys were not first
    // toJSON() would overwrite its own `schema` entry in place, or set the object's prototype.
    if (key === 'schema' || key === '__proto__') return generalText(event, omit);
    const text = valueText((event as unknown as Record<string, unknown>)[key]);
    if (text !== undefined) fields += `,${quoted(key)}:${text}`;
  }
  const hostAndContainer = omit ? '' : `,"host":${quoted(event.host)},"container":${c === null ? 'null' : containerJSON(c)}`;
  return (
    `{"schema":${EVENT_SCHEMA_VERSION},"type":${quoted(event.type)},"time":"${isoOf(event.time)}","ts":"${event.ts}"` +
    `${hostAndContainer},"cgroupId":"${cgroupText(event.cgroupId)}"` +
    `,"pid":${valueText(event.pid)},"tid":${valueText(event.tid)},"comm":${quoted(event.comm)}${fields}}`
  );
}
