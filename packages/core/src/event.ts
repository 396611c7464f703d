/**
 * The event model shared by every plugin, sink and the detector.
 *
 * An event is a flat object: the common header fields (type, time, host, container, pid, ...)
 * plus the fields of its type (`path`, `argv`, `bytes`, ...). `toJSON()` gives the wire form used
 * by the ndjson and Kafka sinks; `eventFromJSON()` turns it back into an event object, so a
 * detector reading from Kafka sees the same thing as one subscribed in-process.
 */

import { HEADER_KEYS, jsonValue } from './json-value.js';

/** Version of the JSON wire form; bump when a field changes meaning. */
export const EVENT_SCHEMA_VERSION = 1;

export interface ContainerInfo {
  /**
   * Full 64-hex container id; null when the task is in a container (its own pid namespace) but no
   * runtime id could be found for its cgroup (then `unresolved` is true). Such events are still
   * container events: rules that ask "in a container" apply to them.
   */
  id: string | null;
  /** Set (true) only on the container of an event whose container id could not be found. */
  unresolved?: boolean;
  /** Container name without the leading slash. */
  name?: string;
  /** Image reference as the runtime reports it (e.g. `busybox:latest`). */
  image?: string;
  /** Image content id (`sha256:...`): the key learned models are stored under. */
  imageId?: string;
  labels?: Record<string, string>;
  runtime?: string;
}

/**
 * The key that groups an event's state per container: the container id, `cgroup:<id>` for a
 * container whose id could not be found (its own key, never merged with the host's), or `host`.
 */
export function containerKey(event: { readonly container: ContainerInfo | null; readonly cgroupId: bigint }): string {
  const c = event.container;
  if (c === null) return 'host';
  return c.id ?? `cgroup:${event.cgroupId}`;
}

export interface IEvent {
  /** Dotted event type: `syscall.count`, `file.open`, `net.flow`, `alert`, ... */
  readonly type: string;
  /** Wall-clock time of the event (ms precision). Events of the same millisecond may share one Date: do not mutate it. */
  readonly time: Date;
  /** Kernel CLOCK_MONOTONIC timestamp in ns (0n for events not made by the kernel). */
  readonly ts: bigint;
  /** Host name of the agent that collected the event. */
  readonly host: string;
  /** The container the process belongs to; null for host processes. */
  container: ContainerInfo | null;
  /** cgroup v2 id of the process (the kernel-side container key); 0n when unknown. */
  readonly cgroupId: bigint;
  /** Process id (tgid) in the host pid namespace; 0 when the event is not about one process. */
  readonly pid: number;
  /** Thread id in the host pid namespace. */
  readonly tid: number;
  /** Command name (task comm, at most 15 characters). */
  readonly comm: string;
  toJSON(): EventJSON;
}

/** Header fields every event has, as produced by a decoder. */
export interface EventHeader {
  time: Date;
  ts: bigint;
  host: string;
  container: ContainerInfo | null;
  cgroupId: bigint;
  pid: number;
  tid: number;
  comm: string;
}

export type EventJSON = { schema: number; type: string; time: string; [field: string]: unknown };

/** An event of type T carrying fields F. */
export type TypedEvent<T extends string, F extends object> = IEvent & { readonly type: T } & Readonly<F>;


/**
 * The class of every event (createEvent, recordEvent, eventFromJSON).
 *
 * Fields are `declare`d, not class fields: an ES2022 class field is defined on every instance
 * before the constructor runs (one DefineOwnProperty per field), ~1 ns per field per event.
 */
export class BaseEvent implements IEvent {
  declare readonly type: string;
  declare readonly time: Date;
  declare readonly ts: bigint;
  declare readonly host: string;
  declare container: ContainerInfo | null;
  declare readonly cgroupId: bigint;
  declare readonly pid: number;
  declare readonly tid: number;
  declare readonly comm: string;

  /**
   * @param header the header fields; `null` only for recordEvent(), which sets them from the record
   *   next, in the same order (so both give the same properties in the same order, the same JSON)
   * @param fields the type's fields, copied after the header
   */
  constructor(type: string, header: EventHeader | null, fields?: object) {
    this.type = type;
    if (header === null) return;
    this.time = header.time;
    this.ts = header.ts;
    this.host = header.host;
    this.container = header.container;
    this.cgroupId = header.cgroupId;
    this.pid = header.pid;
    this.tid = header.tid;
    this.comm = header.comm;
    if (fields) Object.assign(this, fields);
  }

  toJSON(): EventJSON {
    const out: EventJSON = {
      schema: EVENT_SCHEMA_VERSION,
      type: this.type,
      time: this.time.toISOString(),
      ts: this.ts.toString(),
      host: this.host,
      container: this.container,
      cgroupId: this.cgroupId.toString(),
      pid: this.pid,
      tid: this.tid,
      comm: this.comm,
    };
    for (const key of Object.keys(this)) {
      if (HEADER_KEYS.has(key)) continue;
      out[key] = jsonValue((this as Record<string, unknown>)[key]);
    }
    return out;
  }
}

/**
 * Build a typed event from a header and a fields object. Convenient for events made now and then;
 * a decoder on a hot path uses recordEvent() instead (no header or fields object, no
 * Object.assign: about half the cost per event).
 */
export function createEvent<T extends string, F extends object>(type: T, header: EventHeader, fields: F): TypedEvent<T, F> {
  return new BaseEvent(type, header, fields) as unknown as TypedEvent<T, F>;
}

/** Rebuild an event from its JSON wire form (the inverse of `toJSON()` for header fields; type fields are kept as JSON values). */
export function eventFromJSON(json: EventJSON): IEvent {
  const { schema: _schema, type, time, ts, host, container, cgroupId, pid, tid, comm, ...fields } = json as Record<string, unknown>;
  if (typeof type !== 'string' || typeof time !== 'string') {
    throw new TypeError('event JSON needs a string `type` and `time`');
  }
  return new BaseEvent(
    type,
    {
      time: new Date(time),
      ts: BigInt((ts as string | undefined) ?? 0),
      host: (host as string | undefined) ?? '',
      container: (container as ContainerInfo | null | undefined) ?? null,
      cgroupId: BigInt((cgroupId as string | undefined) ?? 0),
      pid: (pid as number | undefined) ?? 0,
      tid: (tid as number | undefined) ?? 0,
      comm: (comm as string | undefined) ?? '',
    },
    fields,
  );
}
