/**
 * The study report, computed from the run folders alone (events.jsonl, checkpoints, study-run.json), so it
 * can be rewritten at any time — after a stop, from another machine's copy of the folder:
 *  - `results.csv`: one row per run — its id, a column per axis, then status and the numbers;
 *  - `report.md`: per group of runs that differ only in their seed — trainable parameters and %, the eval
 *    metric's mean ± std over seeds, step time, tensor memory, the trained tensors' file size — sorted by
 *    the metric within each block of the other axes, the best underlined, and any row whose ±1 std interval
 *    overlaps the best's marked "≈" (within seed noise); the what-moved grids; the study's overhead;
 *  - charts: `metric-vs-params.svg` (log x), `metric-vs-rows.svg` (with a train_rows axis), `what-moved.svg`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { toChangeEvent, type ChangeEvent, type EndEvent, type EvalEvent, type StartedEvent, type StepEvent } from '../protocol/events';
import { CHECKPOINTS } from '../train/checkpoint';
import { readEvents } from '../train/run-dir';
import type { Study } from './config';
import { STUDY_REPORT_FILE, type StudyChart, type StudyReportModel, type StudyReportRow } from './report-model';
import { heatmapRow, lineChart, type Heatmap, type Series } from './svg';

/** Duplicated from runner.ts to keep this module free of the trainer (and TF.js). */
const RUNS_DIR = 'runs';
const STUDY_RUN_FILE = 'study-run.json';

export interface ReportFiles {
  dir: string;
  files: string[];
}

export interface RunResult {
  id: string;
  axes: Record<string, string | number | boolean>;
  status: 'finished' | 'stopped' | 'failed' | 'pending' | 'interrupted';
  reason?: string;
  method?: string;
  trainable?: number;
  totalParams?: number;
  trainablePercent?: number;
  trainRows?: number;
  /** Final evaluation's metrics and loss. */
  metrics: Record<string, number>;
  evalLoss?: number;
  primary?: string;
  steps?: number;
  /** Median seconds per optimizer step (from the step events' times). */
  stepSeconds?: number;
  peakTensorBytes?: number;
  /** Size of the final checkpoint's trained-tensors file: what the method adds to the base model. */
  exportBytes?: number;
  timing?: { startupSeconds: number; trainSeconds: number; finalEvalSeconds: number; teardownSeconds: number; studySeconds: number; wallSeconds: number };
  change?: ChangeEvent;
  heatmap?: StartedEvent['heatmap'];
}

export function collectResults(study: Study, outDir: string): RunResult[] {
  return study.runs.map((run) => readRun(path.join(outDir, RUNS_DIR, run.id), run.id, run.axes));
}

export function readRun(runDir: string, id: string, axes: RunResult['axes']): RunResult {
  const { events } = readEvents(runDir);
  const r: RunResult = { id, axes, status: 'pending', metrics: {} };
  if (!events.length) return r;
  let started: StartedEvent | undefined;
  let end: EndEvent | undefined;
  let lastEval: EvalEvent | undefined;
  const stepTimes: number[] = [];
  for (const e of events) {
    if (e.type === 'started') {
      started = e;
      stepTimes.push(NaN); // a resumed run's first step is not timed against the previous part's last
    } else if (e.type === 'step') stepTimes.push((e as StepEvent).time);
    else if (e.type === 'eval') lastEval = e;
    else if (e.type === 'change' || e.type === 'biasChange') r.change = toChangeEvent(e);
    else if (e.type === 'finished' || e.type === 'stopped' || e.type === 'failed') end = e;
  }
  r.status = end ? end.type : 'interrupted';
  r.reason = end?.reason;
  if (started) {
    r.method = started.method;
    r.trainable = started.trainable.count;
    r.totalParams = started.trainable.total;
    r.trainablePercent = started.trainable.percent;
    r.trainRows = started.data.train;
    r.heatmap = started.heatmap;
  }
  if (end?.type === 'finished' || lastEval) {
    const m = end?.finalMetrics ?? lastEval?.metrics ?? {};
    r.metrics = { ...m };
    r.evalLoss = lastEval?.loss;
    r.primary = lastEval?.primary;
  }
  r.steps = end?.step;
  const diffs: number[] = [];
  for (let i = 1; i < stepTimes.length; i++) {
    const d = stepTimes[i]! - stepTimes[i - 1]!;
    if (Number.isFinite(d)) diffs.push(d / 1000);
  }
  if (diffs.length) r.stepSeconds = median(diffs);
  const ckDir = path.join(runDir, CHECKPOINTS);
  if (fs.existsSync(ckDir)) {
    const last = fs.readdirSync(ckDir).filter((d) => /^step-\d+$/.test(d)).sort().pop();
    const f = last && path.join(ckDir, last, 'trainable.safetensors');
    if (f && fs.existsSync(f)) r.exportBytes = fs.statSync(f).size;
  }
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(runDir, STUDY_RUN_FILE), 'utf8')) as { timing?: RunResult['timing'] & { peakTensorBytes?: number } };
    if (rec.timing) {
      const { peakTensorBytes, ...t } = rec.timing;
      r.timing = t;
      r.peakTensorBytes = peakTensorBytes;
    }
  } catch {
    // No study-run.json: a run folder from elsewhere; its timings are simply absent.
  }
  return r;
}

/** A report row (`StudyReportRow`: axes, block, mean ± std, sizes, marks) with the run results behind it. */
export interface Group extends Omit<StudyReportRow, 'runs'> {
  key: string;
  runs: RunResult[];
  finished: RunResult[];
  metric?: string;
}

/** Runs that differ only in their seed, with the metric's mean ± std; best and within-noise marks per block. */
export function groupResults(study: Study, results: RunResult[], metric?: string): Group[] {
  const groupKeys = study.axisKeys.filter((k) => k !== 'seed');
  const blockKeys = groupKeys.filter((k) => k !== 'method');
  const groups = new Map<string, Group>();
  for (const r of results) {
    const axes = Object.fromEntries(groupKeys.map((k) => [k, r.axes[k]!]));
    const key = groupKeys.map((k) => `${k}=${String(r.axes[k])}`).join(', ') || 'all runs';
    const block = blockKeys.map((k) => `${k}=${String(r.axes[k])}`).join(', ');
    const g = groups.get(key) ?? { key, axes, block, runs: [], finished: [], n: 0 };
    g.runs.push(r);
    if (r.status === 'finished') g.finished.push(r);
    groups.set(key, g);
  }
  const out = [...groups.values()];
  for (const g of out) {
    const m = metric ?? g.finished.find((r) => r.primary)?.primary;
    g.metric = m;
    const vals = g.finished.map((r) => (m ? r.metrics[m] : undefined)).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    g.n = vals.length;
    if (vals.length) {
      g.mean = mean(vals);
      g.std = vals.length > 1 ? Math.sqrt(vals.reduce((a, v) => a + (v - g.mean!) ** 2, 0) / (vals.length - 1)) : undefined;
    }
    g.trainable = meanOf(g.finished.map((r) => r.trainable));
    g.trainablePercent = meanOf(g.finished.map((r) => r.trainablePercent));
    g.stepSeconds = meanOf(g.finished.map((r) => r.stepSeconds));
    g.peakTensorBytes = maxOf(g.finished.map((r) => r.peakTensorBytes));
    g.exportBytes = meanOf(g.finished.map((r) => r.exportBytes));
  }
  // Within each block: sort by the metric, mark the best and the rows within seed noise of it.
  const blocks = new Map<string, Group[]>();
  for (const g of out) (blocks.get(g.block) ?? blocks.set(g.block, []).get(g.block)!).push(g);
  const sorted: Group[] = [];
  for (const block of sortBlocks([...blocks.keys()], study)) {
    const gs = blocks.get(block)!;
    const lowerBetter = gs[0]?.metric ? /loss|mse|mae|error/i.test(gs[0].metric) : false;
    gs.sort((a, b) => (a.mean === undefined ? 1 : b.mean === undefined ? -1 : lowerBetter ? a.mean - b.mean : b.mean - a.mean));
    const best = gs.find((g) => g.mean !== undefined);
    if (best) {
      best.best = true;
      for (const g of gs) {
        if (g === best || g.mean === undefined || g.std === undefined || best.std === undefined) continue;
        g.withinNoise = Math.abs(best.mean! - g.mean) <= best.std + g.std;
      }
    }
    sorted.push(...gs);
  }
  return sorted;
}

/** Blocks in axis order, numbers numerically (train_rows 500 before 5000). */
function sortBlocks(blocks: string[], study: Study): string[] {
  const order = new Map<string, number>();
  study.runs.forEach((r, i) => {
    const b = study.axisKeys.filter((k) => k !== 'seed' && k !== 'method').map((k) => `${k}=${String(r.axes[k])}`).join(', ');
    if (!order.has(b)) order.set(b, i);
  });
  return blocks.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
}

export function writeReport(study: Study, outDir: string): ReportFiles {
  const results = collectResults(study, outDir);
  const groups = groupResults(study, results, study.metric);
  const files: string[] = [];
  const write = (name: string, text: string) => {
    writeFileAtomic(path.join(outDir, name), text);
    files.push(name);
  };
  write('results.csv', resultsCsv(study, results));
  const metric = study.metric ?? groups.find((g) => g.metric)?.metric ?? 'metric';
  const methodSeries = (pick: (g: Group) => number | undefined, line: boolean, label: (g: Group) => string): Series[] => {
    const byMethod = new Map<string, Series>();
    for (const g of groups) {
      if (g.mean === undefined) continue;
      const name = String(g.axes.method ?? g.finished[0]?.method ?? 'runs');
      const s = byMethod.get(name) ?? byMethod.set(name, { name, points: [], line }).get(name)!;
      const x = pick(g);
      if (x !== undefined) s.points.push({ x, y: g.mean, err: g.std, label: label(g) });
    }
    return [...byMethod.values()];
  };
  const otherLabel = (g: Group) => Object.entries(g.axes).filter(([k]) => k !== 'method').map(([k, v]) => `${k}=${v}`).join(', ');
  const charts: StudyChart[] = [];
  const chart = (c: StudyChart) => {
    charts.push(c);
    write(c.file, lineChart(c.series, c));
  };
  chart({ file: 'metric-vs-params.svg', series: methodSeries((g) => g.trainable, false, otherLabel), title: `${study.name}: ${metric} vs trainable parameters`, xLabel: 'trainable parameters', yLabel: `${metric} (mean ± std over seeds)`, logX: true });
  const hasRows = study.axisKeys.includes('train_rows');
  if (hasRows) {
    chart({ file: 'metric-vs-rows.svg', series: methodSeries((g) => Number(g.axes.train_rows), true, otherLabel), title: `${study.name}: ${metric} vs training-set size`, xLabel: 'training rows', yLabel: `${metric} (mean ± std over seeds)`, logX: true });
  }
  const grids = whatMoved(study, groups);
  if (grids.length) write('what-moved.svg', heatmapRow(grids, `${study.name}: what moved (final grids, mean over seeds)`));
  write('report.md', reportMarkdown(study, results, groups, grids, metric, hasRows));
  write(STUDY_REPORT_FILE, JSON.stringify(reportModel(study, results, groups, grids, charts, metric)) + '\n');
  return { dir: outDir, files };
}

/** The report as data (report.json): the same groups, marks, series and grids as report.md and the SVGs. */
export function reportModel(study: Study, results: RunResult[], groups: Group[], grids: Heatmap[], charts: StudyChart[], metric: string): StudyReportModel {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : undefined);
  return {
    v: 1,
    name: study.name,
    metric,
    axes: [...study.axisKeys],
    counts,
    total: results.length,
    rows: groups.map((g) => ({
      axes: g.axes,
      block: g.block,
      mean: finite(g.mean),
      std: finite(g.std),
      n: g.n,
      runs: g.runs.length,
      trainable: finite(g.trainable),
      trainablePercent: finite(g.trainablePercent),
      stepSeconds: finite(g.stepSeconds),
      peakTensorBytes: finite(g.peakTensorBytes),
      exportBytes: finite(g.exportBytes),
      best: g.best || undefined,
      withinNoise: g.withinNoise || undefined,
    })),
    charts: charts.map((c) => ({ ...c, series: c.series.map((s) => ({ ...s, points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => ({ ...p, err: finite(p.err) })) })) })),
    grids: grids.map((h) => ({ ...h, values: h.values.map((row) => row.map((v) => (v !== undefined && Number.isFinite(v) ? v : null))) })),
    notFinished: results.filter((r) => r.status !== 'finished').map((r) => ({ id: r.id, status: r.status, reason: r.reason?.split('\n')[0] })),
  };
}

/** One grid per method (its group with the most training rows, else its first), averaged over seeds; the title names the group. */
export function whatMoved(study: Study, groups: Group[]): Heatmap[] {
  const byMethod = new Map<string, Group[]>();
  for (const g of groups) {
    const name = String(g.axes.method ?? g.finished[0]?.method ?? 'runs');
    (byMethod.get(name) ?? byMethod.set(name, []).get(name)!).push(g);
  }
  const maps: Heatmap[] = [];
  for (const [name, gs] of byMethod) {
    const g = [...gs].sort((a, b) => Number(b.axes.train_rows ?? 0) - Number(a.axes.train_rows ?? 0)).find((x) => x.finished.some((r) => r.change && r.heatmap));
    if (!g) continue;
    const runs = g.finished.filter((r) => r.change && r.heatmap);
    const layout = runs[0]!.heatmap!;
    const sums = new Map<string, { s: number; n: number }>();
    for (const r of runs) {
      const cells = new Map<string, number[]>();
      for (const c of r.change!.cells) (cells.get(`${c.row}\n${c.kind}`) ?? cells.set(`${c.row}\n${c.kind}`, []).get(`${c.row}\n${c.kind}`)!).push(c.value);
      for (const [k, vs] of cells) {
        const e = sums.get(k) ?? { s: 0, n: 0 };
        e.s += mean(vs);
        e.n += 1;
        sums.set(k, e);
      }
    }
    const present = new Set([...sums.keys()].map((k) => k.split('\n')[1]!));
    const columns = layout.kinds.filter((k) => present.has(k));
    for (const k of present) if (!columns.includes(k)) columns.push(k);
    const rows = layout.rows.filter((row) => columns.some((c) => sums.has(`${row}\n${c}`)));
    const values = rows.map((row) => columns.map((c) => {
      const e = sums.get(`${row}\n${c}`);
      return e ? e.s / e.n : undefined;
    }));
    const others = Object.entries(g.axes).filter(([k]) => k !== 'method').map(([k, v]) => (k === 'train_rows' ? `${v} rows` : `${k}=${v}`));
    const title = others.length ? `${name} (${others.join(', ')})` : name;
    maps.push({ title, rows, columns, values, measure: runs[0]!.change!.measure });
  }
  return maps;
}

function resultsCsv(study: Study, results: RunResult[]): string {
  const metricKeys = [...new Set(results.flatMap((r) => Object.keys(r.metrics)))];
  const primary = results.find((r) => r.primary)?.primary;
  if (primary) metricKeys.sort((a, b) => (a === primary ? -1 : b === primary ? 1 : 0));
  const header = [...study.axisKeys, 'run', 'status', 'method_name', 'trainable_params', 'total_params', 'trainable_percent', 'train_rows_used', 'steps', ...metricKeys, 'eval_loss', 'step_seconds', 'peak_tensor_bytes', 'export_bytes', 'startup_seconds', 'train_seconds', 'final_eval_seconds', 'teardown_seconds', 'study_seconds', 'wall_seconds', 'reason'];
  const rows = results.map((r) => [
    ...study.axisKeys.map((k) => r.axes[k]),
    r.id, r.status, r.method, r.trainable, r.totalParams, r.trainablePercent, r.trainRows, r.steps,
    ...metricKeys.map((k) => r.metrics[k]),
    r.evalLoss, r.stepSeconds, r.peakTensorBytes, r.exportBytes,
    r.timing?.startupSeconds, r.timing?.trainSeconds, r.timing?.finalEvalSeconds, r.timing?.teardownSeconds, r.timing?.studySeconds, r.timing?.wallSeconds,
    r.status === 'finished' ? undefined : r.reason,
  ]);
  return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n') + '\n';
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? String(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function reportMarkdown(study: Study, results: RunResult[], groups: Group[], grids: Heatmap[], metric: string, hasRows: boolean): string {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  const lines: string[] = [];
  lines.push(`# Study: ${study.name}`, '');
  lines.push(`${results.length} runs (${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}); axes: ${study.axisKeys.map((k) => `\`${k}\``).join(' × ') || 'none'}. Metric: **${metric}** on the eval data, at the end of training.`, '');
  lines.push('![metric vs trainable parameters](metric-vs-params.svg)', '');
  if (hasRows) lines.push('![metric vs training-set size](metric-vs-rows.svg)', '');
  const groupAxes = study.axisKeys.filter((k) => k !== 'seed');
  lines.push('## Results', '');
  lines.push(`Mean ± std over seeds (n = finished runs). In each block the best is <u>underlined</u>; ≈ marks a row whose mean ± std overlaps the best's (a difference within seed noise).`, '');
  lines.push(`| ${[...groupAxes, `${metric}`, 'n', 'trainable', '%', 'step (s)', 'tensor memory', 'trained file'].join(' | ')} |`);
  lines.push(`|${[...groupAxes, 0, 0, 0, 0, 0, 0, 0].map(() => ' --- ').join('|')}|`);
  for (const g of groups) {
    const v = g.mean === undefined ? '—' : `${fmt(g.mean)}${g.std !== undefined ? ` ± ${fmt(g.std)}` : ''}`;
    const shownV = g.best ? `<u>${v}</u>` : g.withinNoise ? `${v} ≈` : v;
    lines.push(`| ${[...groupAxes.map((k) => String(g.axes[k])), shownV, `${g.n}/${g.runs.length}`, g.trainable === undefined ? '—' : Math.round(g.trainable).toLocaleString('en-US'), g.trainablePercent === undefined ? '—' : `${g.trainablePercent.toPrecision(3)}%`, g.stepSeconds === undefined ? '—' : g.stepSeconds.toFixed(3), bytes(g.peakTensorBytes), bytes(g.exportBytes)].join(' | ')} |`);
  }
  lines.push('');
  const failed = results.filter((r) => r.status !== 'finished');
  if (failed.length) {
    lines.push('## Runs not finished', '');
    for (const r of failed) lines.push(`- \`${r.id}\`: ${r.status}${r.reason ? ` — ${r.reason.split('\n')[0]}` : ''}`);
    lines.push('');
  }
  if (grids.length) {
    lines.push('## What moved', '', '![what moved](what-moved.svg)', '');
    lines.push('Each method\'s final what-moved grid, averaged over seeds; per column (mean over rows), largest first:', '');
    for (const h of grids) {
      const cols = h.columns.map((c, j) => {
        const vs = h.values.map((row) => row[j]).filter((v): v is number => v !== undefined);
        return { c, v: vs.length ? mean(vs) : 0 };
      }).sort((a, b) => b.v - a.v);
      lines.push(`- **${h.title}** (${h.measure}): ${cols.map((x) => `${x.c} ${x.v.toPrecision(3)}`).join(', ')}`);
    }
    lines.push('');
  }
  const timed = results.filter((r) => r.status === 'finished' && r.timing);
  if (timed.length) {
    const sum = (f: (t: NonNullable<RunResult['timing']>) => number) => timed.reduce((a, r) => a + f(r.timing!), 0);
    const train = sum((t) => t.trainSeconds);
    const over = sum((t) => t.startupSeconds + t.teardownSeconds + t.studySeconds);
    lines.push('## Time', '');
    lines.push(`${timed.length} timed runs: training ${train.toFixed(1)} s, final evaluations ${sum((t) => t.finalEvalSeconds).toFixed(1)} s, per-run overhead (start-up, model and data load, teardown, the study's own work) ${over.toFixed(1)} s = ${((100 * over) / train).toFixed(1)}% of the training time.`, '');
  }
  lines.push('Files: `results.csv` (one row per run), `runs/<id>/` (ordinary run folders: config.json, events.jsonl, checkpoints).', '');
  return lines.join('\n');
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4);
}

function bytes(b: number | undefined): string {
  if (b === undefined) return '—';
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
function meanOf(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? mean(v) : undefined;
}
function maxOf(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : undefined;
}
