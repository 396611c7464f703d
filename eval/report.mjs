/**
 * Scoring and the EVALUATION.md report. Terms follow LID-DS (Grimmer et al.; its
 * PerformanceMeasurement): a *recording* is one attack scenario run; it is *detected* when at least
 * one alarm falls after the exploit start (here: inside the attack window of an attacked container);
 * alarms before the exploit start are false alarms, and a run of consecutive false alarms counts once
 * as a *consecutive false alarm* (CFA; here: false alerts of one container less than CFA_GAP_MS apart).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const CFA_GAP_MS = 10_000;
const EVAL = dirname(fileURLToPath(import.meta.url));

const sourceOf = (a) => a.rule ?? `model:${a.model}`;
const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const isRuntimeInit = (a) => /^runc/.test(a.comm ?? '') || /^runc/.test(a.process?.comm ?? '');

export function analyse({ lines, containers, records, phases }) {
  // First emission of each alert id (later lines with the same id are count updates).
  const first = new Map();
  for (const l of lines) if (!first.has(l.alert.id)) first.set(l.alert.id, { ...l, count: l.alert.count ?? 1 });
  for (const l of lines) first.get(l.alert.id).count = Math.max(first.get(l.alert.id).count, l.alert.count ?? 1);
  const byId = new Map(containers.map((c) => [c.id, c]));
  const firstAttackAt = new Map();
  for (const r of records) for (const k of r.alertsIn) firstAttackAt.set(k, Math.min(firstAttackAt.get(k) ?? Infinity, r.startedAt));

  const falseAlerts = [];
  const attributed = new Map(records.map((r) => [r.name, []]));
  const postAttack = [];
  let otherContainers = 0;
  const noiseKeys = new Set();
  const alerts = [...first.values()].sort((a, b) => a.at - b.at);
  for (const l of alerts) {
    const a = l.alert;
    const c = a.container?.id ? byId.get(a.container.id) : undefined;
    if (!c || c.infra) {
      otherContainers++;
      continue;
    }
    const item = { at: l.at, source: sourceOf(a), key: a.key, message: a.message, comm: a.comm, time: a.time, count: l.count, container: c.key, runtimeInit: isRuntimeInit(a) };
    const win = records.filter((r) => r.alertsIn.includes(c.key) && l.at >= r.startedAt && l.at <= r.windowEnd).sort((x, y) => y.startedAt - x.startedAt)[0];
    if (win) {
      if (noiseKeys.has(`${c.key}|${item.source}|${item.key}`)) item.noise = true;
      attributed.get(win.name).push(item);
    } else if (l.at < (firstAttackAt.get(c.key) ?? Infinity)) {
      item.phase = l.at < phases.detectFrom ? 'learning' : 'detecting';
      falseAlerts.push(item);
      noiseKeys.add(`${c.key}|${item.source}|${item.key}`);
    } else postAttack.push(item);
  }

  const attacks = records.map((r) => {
    const all = attributed.get(r.name);
    const hits = all.filter((x) => !x.noise);
    const firstHit = hits[0];
    const expected = hits.find((x) => r.expect.includes(x.source));
    // Scored by the alert's rule: a rule-targeted scenario counts as caught only by one of its rules.
    const ruleHit = hits.find((x) => r.expect.includes(x.source) && !x.source.startsWith('model:'));
    return {
      name: r.name,
      target: r.target,
      modelOnly: r.modelOnly,
      expect: r.expect,
      detected: hits.length > 0,
      expectedHit: Boolean(expected),
      ruleHit: Boolean(ruleHit),
      sources: [...new Set(hits.map((x) => x.source))],
      first: firstHit ? { source: firstHit.source, message: firstHit.message, ttdMs: firstHit.at - r.startedAt, eventToAlertMs: firstHit.at - Date.parse(firstHit.time) } : null,
      expectedTtdMs: expected ? expected.at - r.startedAt : null,
      noise: all.filter((x) => x.noise).length,
    };
  });

  const workloadContainers = containers.filter((c) => !c.infra);
  const perContainer = workloadContainers.map((c) => {
    const end = Math.min(firstAttackAt.get(c.key) ?? Infinity, phases.end ?? Date.now());
    const fa = falseAlerts.filter((x) => x.container === c.key);
    let cfa = 0;
    let last = -Infinity;
    for (const x of fa) {
      if (x.at - last > CFA_GAP_MS) cfa++;
      last = x.at;
    }
    const byRule = {};
    for (const x of fa) byRule[x.source] = (byRule[x.source] ?? 0) + 1;
    return {
      key: c.key,
      normalS: Math.max(0, (end - c.startedAt) / 1000),
      detectS: Math.max(0, (end - phases.detectFrom) / 1000),
      learning: fa.filter((x) => x.phase === 'learning').length,
      detecting: fa.filter((x) => x.phase === 'detecting').length,
      runtimeInit: fa.filter((x) => x.runtimeInit).length,
      cfa,
      byRule,
    };
  });

  const hours = perContainer.reduce((s, p) => s + p.normalS, 0) / 3600;
  const detectHours = perContainer.reduce((s, p) => s + p.detectS, 0) / 3600;
  const totalFalse = falseAlerts.length;
  const nonInit = falseAlerts.filter((x) => !x.runtimeInit).length;
  const detectFalse = falseAlerts.filter((x) => x.phase === 'detecting').length;
  const ttds = attacks.filter((a) => a.detected).map((a) => a.first.ttdMs);
  const evDelays = attacks.filter((a) => a.detected).map((a) => a.first.eventToAlertMs);
  const detected = attacks.filter((a) => a.detected).length;
  return {
    attacks,
    perContainer,
    falseAlerts,
    postAttack,
    otherContainers,
    totals: {
      attacks: attacks.length,
      detected,
      detectionRate: attacks.length ? detected / attacks.length : 0,
      expectedHits: attacks.filter((a) => a.expectedHit).length,
      modelOnly: attacks.filter((a) => a.modelOnly).length,
      modelOnlyDetected: attacks.filter((a) => a.modelOnly && a.detected).length,
      containerHours: hours,
      detectContainerHours: detectHours,
      falseAlerts: totalFalse,
      falseAlertsNonInit: nonInit,
      falseAlertsDetecting: detectFalse,
      falsePerHour: hours ? totalFalse / hours : 0,
      falsePerHourNonInit: hours ? nonInit / hours : 0,
      falsePerHourDetecting: detectHours ? detectFalse / detectHours : 0,
      cfa: perContainer.reduce((s, p) => s + p.cfa, 0),
      medianTtdMs: median(ttds),
      worstTtdMs: ttds.length ? Math.max(...ttds) : null,
      medianEventToAlertMs: median(evDelays),
      // How many attack windows a detect-mode false-alert rate would "detect" by chance.
      chanceDetections: detectHours ? (detectFalse / detectHours) * records.reduce((s, r) => s + r.alertsIn.length * (r.windowEnd - r.startedAt), 0) / 3_600_000 : 0,
    },
  };
}

const s = (ms) => (ms == null ? '–' : `${(ms / 1000).toFixed(2)} s`);
const pct = (x) => `${(x * 100).toFixed(0)} %`;
const esc = (t) => String(t ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
const trim = (t, n = 110) => (String(t ?? '').length > n ? `${String(t).slice(0, n - 1)}…` : String(t ?? ''));

/**
 * What CI fails on (`--strict`, scripts/test.sh): a scenario a default rule targets that none of its
 * rules caught, and any rule alert on a normal workload. Model-only scenarios and model alerts on
 * normal workloads are informational (the models are scored, not gated).
 */
export function regressions(r) {
  const out = [];
  for (const a of r.attacks) if (!a.modelOnly && a.expect.some((x) => !x.startsWith('model:')) && !a.ruleHit) out.push(`missed by its rules: ${a.name} (expected ${a.expect.filter((x) => !x.startsWith('model:')).join(' / ')})`);
  for (const f of r.falseAlerts ?? []) if (!f.source.startsWith('model:')) out.push(`rule alert on a normal workload: ${f.container}: ${f.source}: ${f.message}`);
  return out;
}

export function summaryLine(r, meta) {
  const t = r.totals;
  const down = Object.entries(meta?.phases?.plugins ?? {}).filter(([, v]) => !v.startsWith('running')).map(([k]) => k);
  return (
    (down.length ? `[PLUGINS NOT RUNNING: ${down.join(', ')}] ` : '') +
    `EVAL SUMMARY: detected ${t.detected}/${t.attacks} attacks (${pct(t.detectionRate)}; expected rule/model ${t.expectedHits}/${t.attacks}; model-only ${t.modelOnlyDetected}/${t.modelOnly}), ` +
    `false alerts on normal workloads ${t.falseAlerts} (${t.falsePerHour.toFixed(1)}/container-hour; ${t.falseAlertsNonInit} not from runc at container start; ${t.falseAlertsDetecting} in detect mode; ${t.cfa} CFA), ` +
    `time to alert median ${s(t.medianTtdMs)} worst ${s(t.worstTtdMs)}`
  );
}

export function renderMarkdown({ meta, result }) {
  const t = result.totals;
  const m = meta.machine;
  const out = [];
  out.push('# boxwatch detection evaluation', '');
  out.push(`Generated by \`npm run eval${meta.mode.name === 'quick' ? ' -- --quick' : ''}\` (eval/run.mjs) on **${meta.date.slice(0, 16).replace('T', ' ')} UTC**, ` +
    `machine \`${m.hostname}\` (Linux ${m.kernel}, ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, load at the end ${m.load.split(' ').slice(0, 3).join(' ')}; shared with other engineers' jobs), ` +
    `boxwatch at commit \`${meta.commit}\`${meta.dirty ? ' (with uncommitted changes in packages/)' : ''}. Method, scenarios and definitions: [docs/evaluation.md](docs/evaluation.md).`, '');
  out.push(`Mode **${meta.mode.name}**: \`${meta.cli.argv}\`; learning ${meta.mode.learnMin} min per image on the normal workloads, ` +
    `${meta.cli.restart ? `then boxwatch stopped (models saved) and restarted on the persisted models (${meta.phases.resumed ?? 0} images loaded, ${(((meta.phases.restartedAt ?? 0) - (meta.phases.restartAt ?? 0)) / 1000).toFixed(1)} s without a detector), ` : 'one process (learning period, then detect mode), '}` +
    `then ${meta.mode.detectNormalS} s of normal workload in detect mode, then the attacks (window ${meta.mode.windowS} s each). Wall time ${Math.round(meta.durationS / 60)} min.`, '');
  const down = Object.entries(meta.phases.plugins ?? {}).filter(([, v]) => !v.startsWith('running'));
  out.push(`Plugins: ${Object.entries(meta.phases.plugins ?? {}).map(([k, v]) => `${k} ${v.startsWith('running') ? v : `**${v}**`}`).join('; ')}.`, '');
  if (down.length) out.push(`> **Warning:** ${down.map(([k]) => k).join(', ')} did not run in this evaluation; the detections that need its events are missing.`, '');
  if (meta.phases.dead?.length) out.push(`> **Warning:** containers not running at the end of the run: ${meta.phases.dead.join(', ')}.`, '');
  out.push('## Summary', '');
  out.push('| metric | value | target |', '|---|---|---|');
  out.push(`| detection rate (per recording) | **${t.detected}/${t.attacks} (${pct(t.detectionRate)})** | every attack |`);
  out.push(`| … by the rule/model the scenario targets | ${t.expectedHits}/${t.attacks} | |`);
  out.push(`| … model-only scenarios (no default rule) | ${t.modelOnlyDetected}/${t.modelOnly} | |`);
  out.push(`| false alerts on normal workloads (all phases) | **${t.falseAlerts}** in ${t.containerHours.toFixed(2)} container-hours = **${t.falsePerHour.toFixed(1)} / container-hour** | 0 |`);
  out.push(`| … excluding container start (runc init) | ${t.falseAlertsNonInit} = ${t.falsePerHourNonInit.toFixed(1)} / container-hour | |`);
  out.push(`| … in detect mode (models active) | ${t.falseAlertsDetecting} in ${t.detectContainerHours.toFixed(2)} container-hours = ${t.falsePerHourDetecting.toFixed(1)} / container-hour | |`);
  out.push(`| chance detections (detect-mode false-alert rate × attack windows) | ${t.chanceDetections?.toFixed(2) ?? '–'} of ${t.attacks} | |`);
  out.push(`| consecutive false alarms (CFA, gap ${CFA_GAP_MS / 1000} s) | ${t.cfa} | |`);
  out.push(`| time to alert from the attack step, median / worst | **${s(t.medianTtdMs)} / ${s(t.worstTtdMs)}** | median < 1 s |`);
  out.push(`| kernel event → alert line, median | ${s(t.medianEventToAlertMs)} | |`, '');
  out.push('## Attacks', '');
  out.push('| scenario | target | detected | first alert (rule / model) | time to alert | expected | other sources |', '|---|---|---|---|---|---|---|');
  for (const a of result.attacks) {
    out.push(`| ${a.name}${a.modelOnly ? ' (model-only)' : ''} | ${a.target} | ${a.detected ? 'yes' : '**MISSED**'} | ${a.first ? esc(a.first.source) : '–'} | ${a.first ? s(a.first.ttdMs) : '–'} | ` +
      `${a.expectedHit ? `yes (${s(a.expectedTtdMs)})` : `no (${esc(a.expect.join(' / '))})`} | ${esc(a.sources.filter((x) => x !== a.first?.source).join(', '))} |`);
  }
  out.push('');
  out.push('## False alerts on the normal workloads', '');
  out.push('| container | normal time | in learning | in detect mode | of them at container start (runc) | CFA | by source |', '|---|---|---|---|---|---|---|');
  for (const p of result.perContainer) {
    out.push(`| ${p.key} | ${Math.round(p.normalS)} s | ${p.learning} | ${p.detecting} | ${p.runtimeInit} | ${p.cfa} | ${esc(Object.entries(p.byRule).map(([k, v]) => `${k} ×${v}`).join(', '))} |`);
  }
  out.push('');
  const distinct = new Map();
  for (const f of result.falseAlerts) {
    const k = `${f.source}|${trim(f.message, 130)}`;
    const d = distinct.get(k) ?? { source: f.source, message: trim(f.message, 130), n: 0, containers: new Set(), phases: new Set() };
    d.n++;
    d.containers.add(f.container);
    d.phases.add(f.phase);
    distinct.set(k, d);
  }
  if (distinct.size) {
    out.push('<details><summary>Distinct false alerts</summary>', '');
    out.push('| source | message | alerts | containers | phase |', '|---|---|---|---|---|');
    for (const d of [...distinct.values()].sort((a, b) => b.n - a.n).slice(0, 60)) {
      out.push(`| ${esc(d.source)} | ${esc(d.message)} | ${d.n} | ${[...d.containers].join(', ')} | ${[...d.phases].join(', ')} |`);
    }
    out.push('', '</details>', '');
  }
  out.push(`Alerts after a container's first attack but outside every attack window (not scored): ${result.postAttack.length}. ` +
    `Alerts from containers outside the evaluation (other engineers' jobs) or its attacker infrastructure: ${result.otherContainers} (ignored).`, '');
  const notes = join(EVAL, 'notes.md');
  if (existsSync(notes)) out.push(readFileSync(notes, 'utf8').trim(), '');
  return out.join('\n');
}
