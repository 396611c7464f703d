import { EVENT_SCHEMA_VERSION, eventFromJSON, stringifyEvent, type EventJSON, type IEvent } from '@boxwatch/core';

/**
 * The Kafka wire form (docs/kafka.md, "Messages").
 *
 * - `single`: one message per event; the value is the event's JSON (`schema` 1, core's event schema),
 *   headers `type` (the event type) and `host`.
 * - `batch`: one message carries consecutive events of one key (host + container), in order:
 *   `{"schema":2,"events":[<event JSON>, ...]}`; each element is exactly the single form's value.
 *   Headers `type` (the family, e.g. `file`), `host` and `events` (how many, decimal).
 *
 * Why: kafkajs's cost is per record (a zero-filled buffer per record and per header, copies, JS
 * CRC-32C over each, and the garbage of all that), so packing ~hundreds of events per record takes most
 * of the producer's per-event work away. The envelope's `schema` 2 makes a reader that only knows the
 * single form reject it loudly (KafkaSource counts `schema` > 1 as a decode error) instead of
 * misreading it. Envelope and event schemas are told apart by the `events` array, not the number.
 */
export const BATCH_SCHEMA = 2;

/** Start of a batch value; the events' JSON follows, separated by commas, then batchTail(). */
export const BATCH_HEAD = `{"schema":${BATCH_SCHEMA},"events":[`;

/** End of a batch value: the host and container every event of the message shares. */
export function batchTail(host: string, container: object | null): string {
  return `],"host":${JSON.stringify(host)},"container":${JSON.stringify(container)}}`;
}

/**
 * An event's JSON for the batch form: its wire form without `host` and `container`, which the
 * message carries once (every event of a message has the same key, so the same host and container).
 */
export function batchElementJSON(event: IEvent): string {
  return stringifyEvent(event, { omitHostAndContainer: true });
}

/** What one Kafka message value decoded to: its events in order, and per-element errors. */
export interface Decoded {
  /** The value was a batch envelope (schema 2). */
  batch: boolean;
  /** Events in message order; an element that could not be decoded is an Error in its place. */
  items: Array<IEvent | Error>;
}

/**
 * Decode a message value in either form into event objects. A value that is not JSON, or not a
 * boxwatch event or batch, throws (the whole message is one decode error); inside a batch, an element
 * that is not an event becomes an Error in its place, so its neighbours are still delivered.
 */
export function decodeValue(value: Buffer | null): Decoded {
  if (!value || value.length === 0) throw new Error('empty message value');
  const json = JSON.parse(value.toString('utf8')) as unknown;
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('value is not a JSON object');
  const obj = json as Record<string, unknown>;
  if (Array.isArray(obj.events) && obj.type === undefined) {
    if (obj.schema !== BATCH_SCHEMA) throw new Error(`unsupported batch schema ${String(obj.schema)} (this build reads ${BATCH_SCHEMA})`);
    if (typeof obj.host !== 'string') throw new Error('batch value without a string `host`');
    const container = obj.container === undefined ? null : obj.container;
    const items: Array<IEvent | Error> = [];
    for (const e of obj.events as unknown[]) {
      try {
        if (typeof e === 'object' && e !== null && !Array.isArray(e)) {
          // Elements leave host and container to the envelope (an element that has its own keeps it).
          const el = e as Record<string, unknown>;
          if (el.host === undefined) el.host = obj.host;
          if (el.container === undefined) el.container = container;
        }
        items.push(decodeEvent(e));
      } catch (err) {
        items.push(err as Error);
      }
    }
    return { batch: true, items };
  }
  return { batch: false, items: [decodeEvent(obj)] };
}

function decodeEvent(json: unknown): IEvent {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('event is not a JSON object');
  const schema = (json as { schema?: unknown }).schema;
  if (typeof schema !== 'number' || schema > EVENT_SCHEMA_VERSION) {
    throw new Error(`unsupported event schema ${String(schema)} (this build reads <= ${EVENT_SCHEMA_VERSION})`);
  }
  return eventFromJSON(json as EventJSON);
}
