/**
 * Cell output JSON → what the notebook renderer draws, DOM-free so it is unit-tested in Node. The JSON is
 * untrusted (it comes from a .peftnb file anyone may have edited), so it is checked structurally here; the
 * renderer bundle carries no zod (see build.mjs), and a malformed output is shown as such, never half-drawn.
 */
import { BITFIT_MEASURE, type ChangeEvent } from '../../../engine/protocol/events';
import type { CompareOutput, RunOutput } from '../../../protocol/notebook-output';
import { buildGrid, layoutOf, nonZeroCells, scaleMax, type HeatGrid } from '../dashboard/heatmap-model';
import type { Point } from '../dashboard/series';
import { methodLabel, methodOfConfig } from '../../../protocol/method';
import { smooth } from '../dashboard/smoothing';

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNumArray = (x: unknown): x is number[] => Array.isArray(x) && x.every((n) => typeof n === 'number');
const isStrArray = (x: unknown): x is string[] => Array.isArray(x) && x.every((n) => typeof n === 'string');
const isMetrics = (x: unknown): x is Record<string, number> => isObj(x) && Object.values(x).every((n) => typeof n === 'number');
const STATUSES = ['queued', 'running', 'paused', 'finished', 'stopped', 'failed'];
/** Caps beyond what the host writes: a hand-edited file must not make the renderer draw a million points. */
const MAX_SERIES = 5000;

function isSeries(x: unknown): x is { step: number[]; value: number[] } {
  return isObj(x) && isNumArray(x.step) && isNumArray(x.value) && x.step.length === x.value.length && x.step.length <= MAX_SERIES;
}

export function parseRunOutput(x: unknown): RunOutput | string {
  if (!isObj(x) || x.v !== 1 || x.kind !== 'run') return 'not a PEFT Studio run output (version 1)';
  if (typeof x.runId !== 'string' || typeof x.label !== 'string' || !STATUSES.includes(x.status as string)) return 'run output without run id, label or status';
  if (!isSeries(x.loss)) return 'run output with a malformed loss series';
  if (!Array.isArray(x.evals) || !x.evals.every((e) => isObj(e) && typeof e.step === 'number' && typeof e.loss === 'number' && isMetrics(e.metrics))) return 'run output with malformed evaluations';
  if (x.finalMetrics !== undefined && !isMetrics(x.finalMetrics)) return 'run output with malformed final metrics';
  const matrixOk = (b: unknown, value: 'value' | 'meanAbs') => {
    const cellOk = (c: unknown) => isObj(c) && typeof c.name === 'string' && typeof c.row === 'string' && typeof c.kind === 'string' && typeof c[value] === 'number' && (c.relative === null || typeof c.relative === 'number');
    return isObj(b) && typeof b.step === 'number' && isStrArray(b.rows) && isStrArray(b.kinds) && Array.isArray(b.cells) && b.cells.length <= MAX_SERIES && b.cells.every(cellOk) && (value === 'meanAbs' || typeof b.measure === 'string');
  };
  if (x.change !== undefined && !matrixOk(x.change, 'value')) return 'run output with a malformed what-moved matrix';
  if (x.bias !== undefined && !matrixOk(x.bias, 'meanAbs')) return 'run output with a malformed bias-change matrix';
  if (x.method !== undefined && typeof x.method !== 'string') return 'run output with a malformed method';
  if (!isObj(x.config)) return 'run output without its config';
  return x as unknown as RunOutput;
}

export function parseCompareOutput(x: unknown): CompareOutput | string {
  if (!isObj(x) || x.v !== 1 || x.kind !== 'compare') return 'not a PEFT Studio comparison (version 1)';
  if (!Array.isArray(x.runs) || !x.runs.every((r) => isObj(r) && typeof r.label === 'string' && typeof r.runId === 'string' && isSeries(r.loss) && isMetrics(r.finalMetrics) && (r.method === undefined || typeof r.method === 'string'))) return 'comparison with malformed runs';
  const n = x.runs.length;
  if (!Array.isArray(x.diff) || !x.diff.every((d) => isObj(d) && typeof d.key === 'string' && isStrArray(d.values) && d.values.length === n)) return 'comparison with a malformed config diff';
  if (!isStrArray(x.metrics) || typeof x.sameCount !== 'number') return 'comparison without its metric list';
  return x as unknown as CompareOutput;
}

/** Raw and smoothed loss points. Smoothing is lighter than the dashboard's: ≤ 200 points are already averaged by spacing. */
export function lossPoints(loss: { step: number[]; value: number[] }, weight = 0.6): { raw: Point[]; smoothed: Point[] } {
  const raw: Point[] = [];
  for (let i = 0; i < loss.step.length; i++) if (Number.isFinite(loss.value[i]!)) raw.push({ x: loss.step[i]!, y: loss.value[i]! });
  const ys = smooth(raw.map((p) => p.y), weight);
  return { raw, smoothed: raw.map((p, i) => ({ x: p.x, y: ys[i]! })) };
}

/**
 * The what-moved matrix of an output as the dashboard's heatmap grid (same layout and column mapping);
 * outputs saved before the method-neutral matrix hold BitFit's `bias` matrix, read the same way.
 */
export function heatGridOf(o: RunOutput): { grid: HeatGrid; max: number; nonZero: number; measure: string } | undefined {
  const m = o.change ?? (o.bias && { ...o.bias, measure: BITFIT_MEASURE, cells: o.bias.cells.map((c) => ({ ...c, value: c.meanAbs })) });
  if (!m) return undefined;
  const event: ChangeEvent = { v: 1, type: 'change', step: m.step, measure: m.measure, cells: m.cells.map((c) => ({ ...c, top: [] })) };
  const layout = layoutOf({ heatmap: { rows: m.rows, kinds: m.kinds, measure: m.measure } }, [event]);
  const grid = buildGrid(layout, event, 'value');
  return { grid, max: scaleMax([event], 'value'), nonZero: nonZeroCells(grid), measure: m.measure };
}

/** The method line of an output: what the host wrote, else read from the config (outputs saved before it). */
export function methodOf(o: RunOutput): string {
  return o.method ?? methodLabel(methodOfConfig(o.config), 'long');
}

/** Rows of the metrics table: final metrics when the run ended with them, else the latest evaluation. */
export function metricRows(o: RunOutput): Array<{ name: string; value: number; primary: boolean }> {
  const m = o.finalMetrics ?? o.evals.at(-1)?.metrics ?? {};
  return Object.entries(m)
    .sort(([a], [b]) => (a === o.primary ? -1 : b === o.primary ? 1 : a.localeCompare(b)))
    .map(([name, value]) => ({ name, value, primary: name === o.primary }));
}

/** "step 40 / 54 · 74%" for the header. */
export function progressText(o: Pick<RunOutput, 'step' | 'totalSteps'>): string {
  if (!o.totalSteps) return o.step ? `step ${o.step}` : '';
  return `step ${o.step} / ${o.totalSteps} · ${Math.round((100 * o.step) / o.totalSteps)}%`;
}

/** A distillation output's loss parts as chart points (non-finite values left out), in the run's order. */
export function componentLines(o: Pick<RunOutput, 'loss' | 'components'>): Array<{ name: string; points: Array<{ x: number; y: number }> }> {
  return Object.entries(o.components ?? {}).map(([name, ys]) => ({
    name,
    points: o.loss.step.map((x, i) => ({ x, y: ys[i]! })).filter((p) => Number.isFinite(p.y)),
  }));
}

/** The teacher's score on the output's primary metric (the first it reported otherwise), for the metrics table. */
export function teacherScore(o: Pick<RunOutput, 'teacher' | 'primary'>): { name: string; value: number } | undefined {
  const m = o.teacher?.metrics;
  if (!m) return undefined;
  const name = o.primary && m[o.primary] !== undefined ? o.primary : Object.keys(m)[0];
  return name !== undefined && Number.isFinite(m[name]) ? { name, value: m[name]! } : undefined;
}
