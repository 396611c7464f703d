/**
 * A bounded FIFO that hands out its head in slices without removing it. The sink sends a slice, and
 * only after the broker acknowledged it does it `shift` those items off: a failed send is retried with
 * exactly the same messages in the same order (which is also what lets the idempotent producer
 * recognise a resend as a duplicate).
 *
 * Backed by an array with a moving head index, compacted now and then, so push and shift are O(1)
 * amortised even at hundreds of thousands of items.
 */
export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;

  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /** Append; false (and nothing stored) when the queue is at capacity. */
  push(item: T): boolean {
    if (this.full) return false;
    this.items.push(item);
    return true;
  }

  /** Up to `max` items from the head, oldest first, still queued. */
  peek(max: number): T[] {
    return this.items.slice(this.head, this.head + Math.min(max, this.length));
  }

  /** Remove `count` items from the head. */
  shift(count: number): void {
    this.head += Math.min(count, this.length);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 65_536 && this.head * 2 > this.items.length) {
      // Compact once the dead prefix dominates, so memory follows what is really queued.
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** Remove everything; returns how many items were discarded. */
  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    return n;
  }
}

/** A Kafka message ready to send: `events` events of one key, in order. */
export interface Chunk {
  topic: string;
  key: string;
  /** The value: the event's JSON (single form) or the batch envelope's UTF-8 bytes. */
  value: Buffer | string;
  headers: Record<string, string>;
  events: number;
}

/** A per-partition byte bound for take(): the partition of a key where known, and the bound. */
export interface PartitionBound {
  of(topic: string, key: string): number | undefined;
  maxBytes: number;
}

export interface MessageLimits {
  format: 'batch' | 'single';
  /** batch form: most events per message. */
  maxEvents: number;
  /** batch form: most bytes of event JSON per message (a larger event still goes, alone). */
  maxBytes: number;
}

/** A batch message being filled: the envelope's bytes so far, off the JS heap. */
interface Builder {
  topic: string;
  key: string;
  host: string;
  /** The container object all its events share (the envelope carries it once). */
  container: object | null;
  family: string;
  buf: Buffer;
  /** Bytes written to `buf`. */
  off: number;
  events: number;
}

const COMMA = 0x2c;
/** Bytes a record adds besides its value and key: length, attributes, deltas, and the headers. */
const RECORD_OVERHEAD = 64;
/** Bytes kept free after every event for the usual tail (host and container JSON); sealing makes more room if needed. */
const TAIL_RESERVE = 1024;

/**
 * The sink's bounded queue, counted in events, holding them already shaped into Kafka messages.
 *
 * In the `batch` form each (topic, key) has an open message that write() appends to: the event's JSON
 * is UTF-8-encoded straight into the message's buffer and the string is garbage at once. Holding
 * events as strings (and an object per event) until the pump took them was the largest cost left once
 * kafkajs did per-message rather than per-event work: they lived long enough for every young-generation
 * GC to copy them. A message is sealed when it reaches `maxEvents`/`maxBytes`, or when the pump takes
 * the head of the queue (then every open message is sealed, so what waited for the linger goes out).
 * Sealed messages form a FIFO; a key's messages are sealed in order, so per-container order holds.
 *
 * `take()` hands out sealed messages from the head without removing them; the sink removes them with
 * `shift()` only once the broker acknowledged them, and a failed send is retried with the very same
 * messages (what the idempotent producer needs to recognise a resend).
 */
export class EventQueue {
  private readonly sealed = new BoundedQueue<Chunk>(Number.MAX_SAFE_INTEGER);
  /** Open batch messages: topic → key → builder. */
  private open = new Map<string, Map<string, Builder>>();
  private sealedEvents = 0;
  private openEvents = 0;
  private readonly head: Buffer;

  /**
   * `batchHead` starts a batch value; `batchTail(host, container)` ends it (at most TAIL_RESERVE bytes
   * are reserved for it up front, more is made room for when sealing).
   */
  constructor(
    readonly capacity: number,
    private readonly limits: MessageLimits,
    batchHead: string,
    private readonly batchTail: (host: string, container: object | null) => string,
  ) {
    this.head = Buffer.from(batchHead);
  }

  /** Events queued (sealed or still in an open message). */
  get length(): number {
    return this.sealedEvents + this.openEvents;
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /**
   * Append one serialised event; false (and nothing stored) when the queue is at capacity. In the batch
   * form `json` is the event without `host` and `container`: its message carries them once, so a
   * message only ever holds events whose container is the very same object (`container`).
   */
  push(topic: string, key: string, type: string, host: string, container: object | null, family: string, json: string): boolean {
    if (this.full) return false;
    if (this.limits.format === 'single') {
      this.sealed.push({ topic, key, value: json, headers: { type, host }, events: 1 });
      this.sealedEvents++;
      return true;
    }
    let byKey = this.open.get(topic);
    if (!byKey) this.open.set(topic, (byKey = new Map()));
    let b = byKey.get(key);
    if (b && (b.events >= this.limits.maxEvents || b.container !== container)) {
      this.seal(b);
      b = undefined;
    }
    b ??= this.builder(byKey, topic, key, host, container, family, json.length);
    if (!this.append(b, json)) {
      // Over maxBytes: seal what it holds and start the next message with this event.
      this.seal(b);
      b = this.builder(byKey, topic, key, host, container, family, json.length);
      this.append(b, json);
    }
    this.openEvents++;
    return true;
  }

  /**
   * Messages from the head holding at most `maxEvents` events and `maxBytes` bytes (values, keys and
   * record overhead), of which at most `partition.maxBytes` go to any one partition (always at least one
   * message when any event is queued), still queued. Seals every open message first.
   *
   * `partition.of(topic, key)` is the partition a key goes to, when known. A message whose partition is
   * not known may land on any partition of its topic, so it counts against all of them: the bound holds
   * whatever the partitioner decides for it (with nothing known, it bounds the whole request per topic).
   */
  take(maxEvents: number, maxBytes = Number.MAX_SAFE_INTEGER, partition?: PartitionBound): Chunk[] {
    this.sealAll();
    const out: Chunk[] = [];
    let events = 0;
    let bytes = 0;
    // Per topic: bytes per known partition, the largest of them, and bytes of unknown partition.
    const perTopic = partition ? new Map<string, { known: Map<number, number>; maxKnown: number; unknown: number }>() : undefined;
    // Every message holds at least one event: maxEvents messages are always enough.
    for (const c of this.sealed.peek(maxEvents)) {
      // Value, key and headers (approximately: the headers are a few short strings) as the broker counts them.
      const size = (typeof c.value === 'string' ? Buffer.byteLength(c.value) : c.value.length) + c.key.length + RECORD_OVERHEAD;
      if (out.length > 0 && (events + c.events > maxEvents || bytes + size > maxBytes)) break;
      if (partition && perTopic) {
        let t = perTopic.get(c.topic);
        if (!t) perTopic.set(c.topic, (t = { known: new Map(), maxKnown: 0, unknown: 0 }));
        const p = partition.of(c.topic, c.key);
        const onP = p === undefined ? 0 : (t.known.get(p) ?? 0) + size;
        const worst = p === undefined ? t.maxKnown + t.unknown + size : Math.max(t.maxKnown, onP) + t.unknown;
        if (out.length > 0 && worst > partition.maxBytes) break;
        if (p === undefined) t.unknown += size;
        else {
          t.known.set(p, onP);
          t.maxKnown = Math.max(t.maxKnown, onP);
        }
      }
      out.push(c);
      events += c.events;
      bytes += size;
    }
    return out;
  }

  /** Remove the first `messages` sealed messages (holding `events` events). */
  shift(messages: number, events: number): void {
    this.sealed.shift(messages);
    this.sealedEvents -= events;
  }

  /** Remove everything; returns how many events were discarded. */
  clear(): number {
    const n = this.length;
    this.sealed.clear();
    this.open = new Map();
    this.sealedEvents = 0;
    this.openEvents = 0;
    return n;
  }

  private builder(
    byKey: Map<string, Builder>,
    topic: string,
    key: string,
    host: string,
    container: object | null,
    family: string,
    jsonLength: number,
  ): Builder {
    // Room for the envelope and a few events of this size; grows by doubling.
    const buf = Buffer.allocUnsafe(Math.max(4096, this.head.length + TAIL_RESERVE + 4 * 3 * jsonLength));
    this.head.copy(buf, 0);
    const b: Builder = { topic, key, host, container, family, buf, off: this.head.length, events: 0 };
    byKey.set(key, b);
    return b;
  }

  /** Encode `json` into the message; false (nothing written) when it would pass maxBytes. */
  private append(b: Builder, json: string): boolean {
    // Worst case of UTF-8 from UTF-16 is 3 bytes per code unit; plus the comma and room for the tail.
    this.ensure(b, 1 + 3 * json.length + TAIL_RESERVE);
    let at = b.off;
    if (b.events > 0) b.buf[at++] = COMMA;
    const n = b.buf.write(json, at, 'utf8');
    if (b.events > 0 && at + n - this.head.length > this.limits.maxBytes) return false;
    b.off = at + n;
    b.events++;
    return true;
  }

  private ensure(b: Builder, more: number): void {
    const need = b.off + more;
    if (need <= b.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(need, 2 * b.buf.length));
    b.buf.copy(grown, 0, 0, b.off);
    b.buf = grown;
  }

  private seal(b: Builder): void {
    // The container is serialised now, once per message: metadata the registry filled in after the
    // first event (it completes bare-id containers in place) reaches the whole message.
    const tail = this.batchTail(b.host, b.container);
    this.ensure(b, 3 * tail.length);
    const end = b.off + b.buf.write(tail, b.off, 'utf8');
    const value = b.buf.subarray(0, end);
    this.sealed.push({ topic: b.topic, key: b.key, value, headers: { type: b.family, host: b.host, events: String(b.events) }, events: b.events });
    this.open.get(b.topic)?.delete(b.key);
    this.sealedEvents += b.events;
    this.openEvents -= b.events;
  }

  private sealAll(): void {
    if (this.openEvents === 0) return;
    for (const byKey of this.open.values()) for (const b of byKey.values()) this.seal(b);
  }
}
