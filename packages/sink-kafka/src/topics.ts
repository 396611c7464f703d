import { containerKey, type IEvent } from '@boxwatch/core';

/**
 * Topic layout: one topic per event family, so a consumer interested only in network events does not
 * read (and pay for) syscall counters. The family is the first dotted segment of the event type
 * (`net.flow` → `net`); alerts go to `<prefix>.alerts`.
 */
export const EVENT_FAMILIES = ['syscall', 'file', 'net', 'process', 'resource', 'enforce', 'alert'] as const;
export type EventFamily = (typeof EVENT_FAMILIES)[number];

/** Topic name suffix of each family (`alert` is plural on the wire: the topic holds many alerts). */
const SUFFIX: Record<EventFamily, string> = {
  syscall: 'syscall',
  file: 'file',
  net: 'net',
  process: 'process',
  resource: 'resource',
  enforce: 'enforce',
  alert: 'alerts',
};

export function familyOf(type: string): string {
  const dot = type.indexOf('.');
  return dot === -1 ? type : type.slice(0, dot);
}

/**
 * Topic for an event type. A family boxwatch does not know yet (a third-party plugin's `mine.thing`)
 * gets its own `<prefix>.mine` topic rather than being dropped or mixed into another family.
 */
export function topicForType(prefix: string, type: string): string {
  const family = familyOf(type);
  const suffix = (SUFFIX as Record<string, string>)[family] ?? family;
  return `${prefix}.${suffix}`;
}

/** Topics of the given families (all by default). */
export function topicsFor(prefix: string, families: readonly string[] = EVENT_FAMILIES): string[] {
  return families.map((f) => topicForType(prefix, f));
}

/**
 * Message key: host plus container id. Kafka hashes the key to pick the partition, so all events of one
 * container (or of one host's host processes) land on one partition, in order, and the detector
 * instance that owns that partition sees the container's whole story.
 */
export function messageKey(event: Pick<IEvent, 'host' | 'container' | 'cgroupId'>): string {
  const id = containerKey(event);
  // The key of the last event is reused while host and id stay the same (events come in runs from
  // one container): a new string per event cost a hash for the queue's Map lookup each time.
  if (event.host !== lastKeyHost || id !== lastKeyId) {
    lastKeyHost = event.host;
    lastKeyId = id;
    lastKey = `${event.host}/${id}`;
  }
  return lastKey;
}
let lastKeyHost = '';
let lastKeyId = '';
let lastKey = '/'; // the key of host '' and id '', so the initial state is a valid memo
