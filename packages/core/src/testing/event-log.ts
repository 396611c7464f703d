import type { IEvent } from '../event.js';

/** Every event a plugin emitted, with a way to wait for the ones a test needs. */
export class EventLog {
  readonly events: IEvent[] = [];
  private waiters: Array<{ pred: (e: IEvent) => boolean; count: number; resolve: (events: IEvent[]) => void }> = [];

  readonly push = (e: IEvent): void => {
    this.events.push(e);
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      const matching = this.events.filter(w.pred);
      if (matching.length < w.count) return true;
      w.resolve(matching);
      return false;
    });
  };

  /**
   * Resolves with the matching events once `count` of them have arrived; rejects after
   * `timeoutMs` naming what was awaited (so a missing event fails with a reason, not a hang).
   */
  waitFor(pred: (e: IEvent) => boolean, count = 1, what = 'matching event', timeoutMs = 30_000): Promise<IEvent[]> {
    const matching = this.events.filter(pred);
    if (matching.length >= count) return Promise.resolve(matching);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${count} × ${what} not seen within ${timeoutMs} ms (${this.events.filter(pred).length} seen, ${this.events.length} events in all)`));
      }, timeoutMs);
      const waiter = {
        pred,
        count,
        resolve: (events: IEvent[]) => {
          clearTimeout(timer);
          resolve(events);
        },
      };
      this.waiters.push(waiter);
    });
  }

  ofType(type: string): IEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  ofContainer(containerId: string): IEvent[] {
    return this.events.filter((e) => e.container?.id === containerId);
  }

  clear(): void {
    this.events.length = 0;
  }
}
