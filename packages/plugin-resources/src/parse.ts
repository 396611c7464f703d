/**
 * Parsers for the text of cgroup and procfs accounting files. Pure functions over strings so they
 * can be property-tested; the readers hand them what one pread returned.
 *
 * Values are JS numbers: byte and nanosecond counters stay exact up to 2^53 (9 PB, 104 CPU-days),
 * and past that lose only the last few units, which does not matter for per-interval deltas.
 */

/** A file holding one integer (`cpuacct.usage`, `pids.current`, `memory.current`). `max` is Infinity. */
export function parseSingleValue(text: string): number {
  const t = text.trim();
  if (t === 'max') return Number.POSITIVE_INFINITY;
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) throw new Error(`expected a number, got ${JSON.stringify(t.slice(0, 40))}`);
  return n;
}

/** `key value` lines (`cpu.stat`, `memory.stat`, `memory.events`, `memory.oom_control`). */
export function parseFlatKeyed(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const n = Number(line.slice(sp + 1));
    if (Number.isFinite(n)) out.set(line.slice(0, sp), n);
  }
  return out;
}

export interface IoBytes {
  read: number;
  write: number;
}

/**
 * cgroup v1 `blkio.throttle.io_service_bytes_recursive`: `MAJ:MIN Read N`, `MAJ:MIN Write N`, ...,
 * and a final `Total N`. Sums Read and Write over devices.
 */
export function parseBlkioServiceBytes(text: string): IoBytes {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3) continue;
    const n = Number(parts[2]);
    if (!Number.isFinite(n)) continue;
    if (parts[1] === 'Read') read += n;
    else if (parts[1] === 'Write') write += n;
  }
  return { read, write };
}

/** cgroup v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N ...` per device. Sums rbytes and wbytes. */
export function parseIoStat(text: string): IoBytes {
  let read = 0;
  let write = 0;
  for (const line of text.split('\n')) {
    for (const field of line.trim().split(/\s+/)) {
      const eq = field.indexOf('=');
      if (eq < 0) continue;
      const key = field.slice(0, eq);
      if (key !== 'rbytes' && key !== 'wbytes') continue;
      const n = Number(field.slice(eq + 1));
      if (!Number.isFinite(n)) continue;
      if (key === 'rbytes') read += n;
      else write += n;
    }
  }
  return { read, write };
}

export interface NetBytes {
  rx: number;
  tx: number;
}

/**
 * `/proc/<pid>/net/dev`: two header lines, then `iface: rx_bytes rx_packets ... (8 rx fields) tx_bytes ...`.
 * Sums every interface except loopback: traffic a container sends to itself is not network I/O,
 * and docker stats counts the same set.
 */
export function parseNetDev(text: string): NetBytes {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (iface === 'lo' || iface === '' || iface.includes('|')) continue;
    const cols = line.slice(colon + 1).trim().split(/\s+/);
    if (cols.length < 16) continue;
    const r = Number(cols[0]);
    const t = Number(cols[8]);
    if (Number.isFinite(r)) rx += r;
    if (Number.isFinite(t)) tx += t;
  }
  return { rx, tx };
}

/** `MemTotal` of `/proc/meminfo`, in bytes. */
export function parseMemTotal(text: string): number {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(text);
  if (!m) throw new Error('MemTotal not found in meminfo');
  return Number(m[1]) * 1024;
}
