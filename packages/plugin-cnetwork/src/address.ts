/**
 * IP addresses as the kernel side keys them: 16 bytes, IPv4 stored v4-mapped (::ffff:a.b.c.d) so
 * an AF_INET socket and an AF_INET6 socket talking to an IPv4 peer (busybox `nc -l`) match the
 * same rule. Reported addresses follow the event contract: v4-mapped comes out as plain IPv4.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const ADDR_LEN = 16;

/** 16-byte key of an IPv4 or IPv6 address, or null when `text` is not an address. */
export function parseAddress(text: string): Buffer | null {
  const s = text.trim();
  if (isIPv4(s)) return v4Mapped(s);
  if (!isIPv6(s)) return null;
  return parseIPv6(s);
}

function v4Mapped(v4: string): Buffer {
  const out = Buffer.alloc(ADDR_LEN);
  out[10] = 0xff;
  out[11] = 0xff;
  v4.split('.').forEach((octet, i) => (out[12 + i] = Number(octet)));
  return out;
}

function parseIPv6(s: string): Buffer {
  const addr = s.replace(/%.*$/, ''); // zone index is not part of the address
  const out = Buffer.alloc(ADDR_LEN);
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4) takes the last two groups.
  let groups: string[];
  const lastColon = addr.lastIndexOf(':');
  let tail: Buffer | null = null;
  if (addr.includes('.')) {
    tail = v4Mapped(addr.slice(lastColon + 1)).subarray(12);
    groups = splitGroups(addr.slice(0, lastColon + 1) + '0:0');
  } else {
    groups = splitGroups(addr);
  }
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  if (tail) tail.copy(out, 12);
  return out;
}

/** Eight hex groups with `::` expanded. */
function splitGroups(addr: string): string[] {
  const [head, rest] = addr.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  if (rest === undefined) return h;
  const t = rest ? rest.split(':') : [];
  return [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
}

export function isV4Mapped(b: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 10; i++) if (b[offset + i] !== 0) return false;
  return b[offset + 10] === 0xff && b[offset + 11] === 0xff;
}

/** Text form of a 16-byte address: v4-mapped as dotted IPv4, else compressed IPv6. */
export function formatAddress(b: Uint8Array, offset = 0): string {
  if (isV4Mapped(b, offset)) return `${b[offset + 12]}.${b[offset + 13]}.${b[offset + 14]}.${b[offset + 15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((b[offset + 2 * i]! << 8) | b[offset + 2 * i + 1]!);
  // Longest run of zero groups (length >= 2) becomes "::" (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address (the key userspace indexes by). */
export function canonicalAddress(text: string): string | null {
  const b = parseAddress(text);
  return b ? formatAddress(b) : null;
}
