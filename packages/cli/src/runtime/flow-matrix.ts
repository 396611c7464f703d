/**
 * Bytes between endpoints (containers by name, else addresses) summed from net.flow events, for the
 * console's Network view. Each socket reports the bytes it sent, so container→container bytes are
 * counted once from each sender's side; bytes received from a peer that is not a watched container
 * (the host, the outside) are counted as peer→container, since no socket of ours reports them sent.
 */
import type { IEvent } from '@boxwatch/core';

export interface FlowPair {
  src: string;
  dst: string;
  bytes: number;
  /** ISO time of the last net.flow that added to this pair. */
  lastSeen: string;
}

interface FlowFields {
  daddr: string;
  saddr: string;
  bytes_sent: number;
  bytes_recv: number;
  peer_container: { id: string; name: string } | null;
}

export class FlowMatrix {
  private readonly pairs = new Map<string, FlowPair>();
  /** Pairs not recorded because the matrix was full (counted: every loss is counted). */
  dropped = 0;

  constructor(private readonly maxPairs = 10_000) {}

  add(event: IEvent): void {
    if (event.type !== 'net.flow') return;
    const f = event as unknown as IEvent & FlowFields;
    const self = event.container?.name ?? event.container?.id?.slice(0, 12) ?? f.saddr;
    const peer = f.peer_container?.name ?? f.daddr;
    const at = event.time.toISOString();
    if (f.bytes_sent > 0) this.bump(self, peer, f.bytes_sent, at);
    if (f.bytes_recv > 0 && !f.peer_container) this.bump(peer, self, f.bytes_recv, at);
  }

  private bump(src: string, dst: string, bytes: number, at: string): void {
    const key = `${src}\u0000${dst}`;
    const p = this.pairs.get(key);
    if (p) {
      p.bytes += bytes;
      p.lastSeen = at;
    } else if (this.pairs.size < this.maxPairs) {
      this.pairs.set(key, { src, dst, bytes, lastSeen: at });
    } else {
      this.dropped++;
    }
  }

  /** The `limit` pairs with the most bytes. */
  top(limit = 500): FlowPair[] {
    return [...this.pairs.values()].sort((a, b) => b.bytes - a.bytes).slice(0, limit);
  }
}
