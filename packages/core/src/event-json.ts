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

// Whether every piece of the text being built is ASCII: the pieces clear it as they are added.
let textAscii = true;
const NON_ASCII = /[^\x00-\x7f]/;

function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}

/**
 * The cached text of a container object, valid while its fields are the same values. The
 * registry fills a bare-id entry in place by replacing fields, which this notices; a nested
 * object changed in place (e.g. `labels.x = ...`) is not noticed: replace it instead.
 */
interface ContainerText {
  json: string;
  ascii: boolean;
  id: string | null;
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
    if (!t.ascii) textAscii = false;
    return t.json;
  }
  const json = JSON.stringify(c);
  const ascii = isAscii(json);
  if (!ascii) textAscii = false;
  containerTexts.set(c, { json, ascii, id: c.id, name: c.name, image: c.image, imageId: c.imageId, labels: c.labels, runtime: c.runtime });
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
const quotedTexts = new Map<string, { text: string; ascii: boolean }>();

function quoted(k: string): string {
  let q = quotedTexts.get(k);
  if (q === undefined) {
    q = { text: JSON.stringify(k), ascii: isAscii(k) };
    if (quotedTexts.size < 4096) quotedTexts.set(k, q);
  }
  if (!q.ascii) textAscii = false;
  return q.text;
}

/** A string value's JSON text (noting whether it is ASCII). */
function stringText(v: string): string {
  if (!isAscii(v)) textAscii = false;
  return JSON.stringify(v);
}

/** JSON text made by JSON.stringify of anything (noting whether it is ASCII). */
function generalJSON(v: unknown): string {
  const text = JSON.stringify(v);
  if (text !== undefined && !isAscii(text)) textAscii = false;
  return text;
}

// The decimal text of the last cgroup id (events come in runs from one container).
let lastCgroupId = -1n;
let lastCgroupText = '-1'; // the text of the initial lastCgroupId, so the memo is valid from the start

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
      return stringText(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'bigint':
      return `"${v}"`;
    default:
      if (v === null) return 'null';
      if (Array.isArray(v)) return arrayText(v);
      return generalJSON(jsonValue(v));
  }
}

/** Arrays of strings and numbers (argv, flag names, syscall ids) directly; anything else in general. */
function arrayText(a: unknown[]): string | undefined {
  let out = '[';
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x === 'string') out += i === 0 ? stringText(x) : `,${stringText(x)}`;
    else if (typeof x === 'number') out += `${i === 0 ? '' : ','}${Number.isFinite(x) ? String(x) : 'null'}`;
    else return generalJSON(jsonValue(a));
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
  let text: string;
  if (!omit) text = JSON.stringify(event);
  else {
    const json = event.toJSON() as Record<string, unknown>;
    // Cheaper than delete (which turns the object into a slow dictionary); JSON skips undefined.
    json.host = undefined;
    json.container = undefined;
    text = JSON.stringify(json);
  }
  textAscii = isAscii(text);
  return text;
}

/** `JSON.stringify(event)`, faster for events built by createEvent / BaseEvent subclasses. */
export function stringifyEvent(event: IEvent, options?: StringifyEventOptions): string {
  return buildText(event, options?.omitHostAndContainer === true);
}

/** An event's JSON text (stringifyEvent's), and whether it is all ASCII. */
export interface EventText {
  text: string;
  /**
   * Every character is ASCII: the UTF-8 bytes are the Latin-1 bytes, one per character. Encoding
   * with 'latin1' then skips Node's UTF-8 pass (~0.9 ns per byte here, most of a sink's cost).
   */
  ascii: boolean;
}

/** stringifyEvent's text, with whether it is ASCII (known from its pieces, most of them cached). */
export function eventText(event: IEvent, options?: StringifyEventOptions): EventText {
  textAscii = true;
  const text = buildText(event, options?.omitHostAndContainer === true);
  return { text, ascii: textAscii };
}

function buildText(event: IEvent, omit: boolean): string {
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
