import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  parseBlkioServiceBytes,
  parseFlatKeyed,
  parseIoStat,
  parseMemTotal,
  parseNetDev,
  parseSingleValue,
} from '../../src/parse.js';

const NET_DEV_HEADER =
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';

function netDevLine(iface: string, rx: number, tx: number): string {
  return `${iface.padStart(6)}: ${rx} 3 0 0 0 0 0 0 ${tx} 5 0 0 0 0 0 0\n`;
}

describe('cgroup and procfs parsers', () => {
  it('reads single values, with cgroup v2 "max" as unlimited', () => {
    expect(parseSingleValue('123456789\n')).toBe(123456789);
    expect(parseSingleValue('max\n')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSingleValue('9223372036854771712\n')).toBeGreaterThan(2 ** 62); // v1 "unlimited"
    expect(() => parseSingleValue('')).toThrow(/expected a number/);
  });

  it('reads flat keyed files (cpu.stat, memory.stat, memory.oom_control)', () => {
    const m = parseFlatKeyed('nr_periods 10\nnr_throttled 4\nthrottled_time 123000\n');
    expect(m.get('throttled_time')).toBe(123000);
    expect(parseFlatKeyed('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n').get('oom_kill')).toBe(3);
  });

  it('flat keyed parsing gives back every key/value written', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z_]{1,20}$/), fc.nat()), (dict) => {
        const text = Object.entries(dict).map(([k, v]) => `${k} ${v}\n`).join('');
        expect(Object.fromEntries(parseFlatKeyed(text))).toEqual(dict);
      }),
    );
  });

  it('sums Read and Write of blkio over devices, ignoring Sync/Async/Total', () => {
    const text = '254:0 Read 100\n254:0 Write 2000\n254:0 Sync 2000\n254:0 Async 100\n254:0 Discard 0\n254:0 Total 2100\n' +
      '8:0 Read 5\n8:0 Write 7\n8:0 Total 12\nTotal 2112\n';
    expect(parseBlkioServiceBytes(text)).toEqual({ read: 105, write: 2007 });
    expect(parseBlkioServiceBytes('Total 0\n')).toEqual({ read: 0, write: 0 });
  });

  it('sums rbytes and wbytes of io.stat over devices', () => {
    const text = '254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n';
    expect(parseIoStat(text)).toEqual({ read: 4097, write: 8194 });
    expect(parseIoStat('')).toEqual({ read: 0, write: 0 });
  });

  it('sums net/dev over every interface but loopback', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ iface: fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), rx: fc.nat(), tx: fc.nat() }), { maxLength: 6 }),
        fc.nat(),
        (ifaces, loBytes) => {
          const text = NET_DEV_HEADER + netDevLine('lo', loBytes, loBytes) + ifaces.map((i) => netDevLine(i.iface, i.rx, i.tx)).join('');
          const counted = ifaces.filter((i) => i.iface !== 'lo');
          expect(parseNetDev(text)).toEqual({
            rx: counted.reduce((s, i) => s + i.rx, 0),
            tx: counted.reduce((s, i) => s + i.tx, 0),
          });
        },
      ),
    );
  });

  it('reads MemTotal from meminfo in bytes', () => {
    expect(parseMemTotal('MemTotal:       24683652 kB\nMemFree:        23316360 kB\n')).toBe(24683652 * 1024);
    expect(() => parseMemTotal('MemFree: 1 kB\n')).toThrow(/MemTotal/);
  });
});
