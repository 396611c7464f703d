/**
 * A small strict parser of the Prometheus text exposition format (0.0.4): every line must be a
 * HELP/TYPE comment or a sample `name{label="value",...} number`; anything else throws.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: Sample[];
  types: Map<string, string>;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/;

export function parsePrometheusText(text: string): Exposition {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    if (line.startsWith('# HELP ')) {
      if (!new RegExp(`^# HELP ${NAME} `).test(line + ' ')) throw new Error(`line ${i + 1}: bad HELP: ${line}`);
      return;
    }
    if (line.startsWith('# TYPE ')) {
      const m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (!m) throw new Error(`line ${i + 1}: bad TYPE: ${line}`);
      types.set(m[1]!, m[2]!);
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length) {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`line ${i + 1}: bad labels: ${line}`);
      labels[l[1]!] = l[2]!;
      rest = rest.slice(l[0].length);
    }
    const raw = m[3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : raw === 'NaN' ? NaN : Number(raw);
    if (Number.isNaN(value) && raw !== 'NaN') throw new Error(`line ${i + 1}: bad value: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  });
  return { samples, types };
}

export function sampleSum(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}
