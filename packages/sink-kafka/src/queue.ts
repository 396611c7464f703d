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
