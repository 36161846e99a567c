/**
 * A study output (the notebook cell's, the study tab's) → what the study view draws, DOM-free so it is
 * unit-tested in Node. The JSON is untrusted (a .peftnb file anyone may have edited), so it is checked
 * structurally before anything is drawn: the charts are SVG generated here from its numbers, and a string
 * where a number belongs would otherwise reach that SVG's text.
 */
import { heatmapRow, lineChart } from '../../../engine/study/svg';
import type { StudyChart, StudyGrid, StudyOutput, StudyReportModel, StudyReportRow } from '../../../protocol/study';
import { formatCount } from '../shared/format';

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const optNum = (x: unknown) => x === undefined || isNum(x);
const isStr = (x: unknown): x is string => typeof x === 'string';
const isStrArray = (x: unknown): x is string[] => Array.isArray(x) && x.every(isStr);
const isScalar = (x: unknown) => isStr(x) || isNum(x) || typeof x === 'boolean';
const STATUSES = ['starting', 'running', 'finished', 'stopped', 'failed'];
/** Caps beyond what a study writes: a hand-edited file must not make the view draw a million cells. */
const MAX_ROWS = 2000;
const MAX_POINTS = 5000;
const MAX_CELLS = 20000;

function rowOk(r: unknown): r is StudyReportRow {
  return isObj(r) && isObj(r.axes) && Object.values(r.axes).every(isScalar) && isStr(r.block) && isNum(r.n) && isNum(r.runs)
    && ['mean', 'std', 'trainable', 'trainablePercent', 'stepSeconds', 'peakTensorBytes', 'exportBytes'].every((k) => optNum(r[k]))
    && (r.best === undefined || typeof r.best === 'boolean') && (r.withinNoise === undefined || typeof r.withinNoise === 'boolean');
}

function chartOk(c: unknown): c is StudyChart {
  return isObj(c) && isStr(c.file) && isStr(c.title) && isStr(c.xLabel) && isStr(c.yLabel) && typeof c.logX === 'boolean' && Array.isArray(c.series)
    && c.series.every((s) => isObj(s) && isStr(s.name) && (s.line === undefined || typeof s.line === 'boolean') && Array.isArray(s.points) && s.points.length <= MAX_POINTS
      && s.points.every((p) => isObj(p) && isNum(p.x) && isNum(p.y) && optNum(p.err) && (p.label === undefined || isStr(p.label))));
}

function gridOk(g: unknown): g is StudyGrid {
  return isObj(g) && isStr(g.title) && isStr(g.measure) && isStrArray(g.rows) && isStrArray(g.columns) && Array.isArray(g.values) && g.values.length === g.rows.length
    && g.rows.length * g.columns.length <= MAX_CELLS && g.values.every((row) => Array.isArray(row) && row.length === (g.columns as string[]).length && row.every((v) => v === null || isNum(v)));
}

export function parseReport(x: unknown): StudyReportModel | string {
  if (!isObj(x) || x.v !== 1) return 'not a study report (version 1)';
  if (!isStr(x.name) || !isStr(x.metric) || !isStrArray(x.axes) || !isNum(x.total) || !isObj(x.counts) || !Object.values(x.counts).every(isNum)) return 'study report without its name, metric, axes or counts';
  if (!Array.isArray(x.rows) || x.rows.length > MAX_ROWS || !x.rows.every(rowOk)) return 'study report with malformed rows';
  if (!Array.isArray(x.charts) || !x.charts.every(chartOk)) return 'study report with malformed charts';
  if (!Array.isArray(x.grids) || !x.grids.every(gridOk)) return 'study report with malformed what-moved grids';
  if (!Array.isArray(x.notFinished) || !x.notFinished.every((r) => isObj(r) && isStr(r.id) && isStr(r.status) && (r.reason === undefined || isStr(r.reason)))) return 'study report with a malformed list of unfinished runs';
  return x as unknown as StudyReportModel;
}

export function parseStudyOutput(x: unknown): StudyOutput | string {
  if (!isObj(x) || x.v !== 1 || x.kind !== 'study') return 'not a PEFT Studio study output (version 1)';
  if (!isStr(x.name) || !isStr(x.dir) || !STATUSES.includes(x.status as string) || !isNum(x.total) || !isNum(x.done)) return 'study output without its name, folder, status or counts';
  if (!Array.isArray(x.failures) || !x.failures.every((f) => isObj(f) && isStr(f.id) && isStr(f.reason))) return 'study output with malformed failures';
  const c = x.current;
  if (c !== undefined && !(isObj(c) && isStr(c.id) && isNum(c.index) && isNum(c.step) && optNum(c.totalSteps) && typeof c.resume === 'boolean')) return 'study output with a malformed current run';
  if (x.error !== undefined && !isStr(x.error)) return 'study output with a malformed error';
  if (x.report !== undefined) {
    const r = parseReport(x.report);
    if (typeof r === 'string') return r;
  }
  return x as unknown as StudyOutput;
}

export interface TableCell {
  text: string;
  /** Numbers right-aligned. */
  numeric?: boolean;
  best?: boolean;
  withinNoise?: boolean;
  title?: string;
}

export interface ReportTable {
  header: string[];
  rows: TableCell[][];
  /** Where a new block (other axis values: train_rows=500 → 5000) begins. */
  blockStarts: number[];
}

/**
 * The per-method table, as report.md has it: the group's axes (seed averaged away), the metric's mean ± std
 * with the best underlined and ≈ on rows within seed noise, n/runs, trainable params and %, step time,
 * tensor memory, the trained file's size. Rows stay in the report's order (sorted within blocks).
 */
export function reportTable(r: StudyReportModel): ReportTable {
  const axes = r.axes.filter((k) => k !== 'seed');
  const header = [...axes, `${r.metric} (mean ± std)`, 'n', 'trainable', '%', 'step', 'memory', 'trained file'];
  const blockStarts: number[] = [];
  const rows = r.rows.map((g, i) => {
    if (i === 0 || g.block !== r.rows[i - 1]!.block) blockStarts.push(i);
    const metric = g.mean === undefined ? '–' : `${fmtMetric(g.mean)}${g.std !== undefined ? ` ± ${fmtMetric(g.std)}` : ''}`;
    return [
      ...axes.map((k) => ({ text: String(g.axes[k] ?? '–') })),
      { text: g.withinNoise ? `${metric} ≈` : metric, numeric: true, best: g.best, withinNoise: g.withinNoise, title: g.best ? 'best in its block' : g.withinNoise ? 'within seed noise of the best (mean ± std overlaps)' : undefined },
      { text: `${g.n}/${g.runs}`, numeric: true },
      { text: g.trainable === undefined ? '–' : Math.round(g.trainable).toLocaleString('en-US'), numeric: true, title: g.trainable === undefined ? undefined : formatCount(g.trainable) },
      { text: g.trainablePercent === undefined ? '–' : `${g.trainablePercent.toPrecision(3)}%`, numeric: true },
      { text: g.stepSeconds === undefined ? '–' : `${(g.stepSeconds * 1000).toFixed(g.stepSeconds < 0.1 ? 1 : 0)} ms`, numeric: true },
      { text: formatBytes(g.peakTensorBytes), numeric: true },
      { text: formatBytes(g.exportBytes), numeric: true },
    ];
  });
  return { header, rows, blockStarts };
}

/** The report's charts and grids as SVG text (the engine's own svg.ts, so they match the report's files). */
export function reportSvgs(r: StudyReportModel): Array<{ id: string; title: string; svg: string }> {
  // A chart with no point yet (no run finished) is left out rather than drawn as an empty frame.
  const out = r.charts.filter((c) => c.series.some((s) => s.points.length)).map((c) => ({ id: c.file.replace(/\.svg$/, ''), title: c.title, svg: lineChart(c.series, c) }));
  if (r.grids.length) {
    const grids = r.grids.map((g) => ({ ...g, values: g.values.map((row) => row.map((v) => (v === null ? undefined : v))) }));
    out.push({ id: 'what-moved', title: `${r.name}: what moved`, svg: heatmapRow(grids, `${r.name}: what moved (final grids, mean over seeds)`) });
  }
  return out;
}

export function fmtMetric(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(4);
}

export function formatBytes(b: number | undefined): string {
  if (b === undefined) return '–';
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${Math.round(b)} B`;
}
