/**
 * What a notebook cell's output holds, and how a live run becomes one. A cell output is a compact summary,
 * not the run: it is saved inside the .peftnb file, so reopening the notebook redraws finished curves
 * without the run folder, and a git diff of the notebook stays readable. Hence the caps: ≤ MAX_POINTS loss
 * points, ≤ MAX_EVALS evaluations, and only the last what-moved matrix (without its unit lists).
 *
 * Shared by the host (which builds outputs) and the renderer (which draws them); no vscode, no DOM.
 */
import { methodLabel, methodOfConfig } from './method';
import type { RunStatus, RunView } from './webview';

export const RUN_MIME = 'application/vnd.peft-studio.run+json';
export const COMPARE_MIME = 'application/vnd.peft-studio.compare+json';
export const MAX_POINTS = 200;
export const MAX_EVALS = 50;

export interface ChangeSummaryCell {
  name: string;
  row: string;
  kind: string;
  /** The cell's number in the matrix's `measure`. */
  value: number;
  relative: number | null;
}

/** What notebooks saved before the method-neutral matrix: BitFit's, measured in mean |Δb|. */
export interface LegacyBiasSummary {
  step: number;
  rows: string[];
  kinds: string[];
  cells: Array<{ name: string; row: string; kind: string; meanAbs: number; relative: number | null }>;
}

export interface RunOutput {
  v: 1;
  kind: 'run';
  runId: string;
  label: string;
  status: RunStatus;
  /** The cell's config after inheritance, as written (no defaults filled): what a comparison diffs. */
  config: Record<string, unknown>;
  /** The method and its key settings ("LoRA r=8"); older outputs lack it (the config says). */
  method?: string;
  step: number;
  totalSteps?: number;
  /** Decimated training loss (≤ MAX_POINTS), columnar like RunView.steps. */
  loss: { step: number[]; value: number[] };
  evals: Array<{ step: number; loss: number; metrics: Record<string, number> }>;
  primary?: string;
  finalMetrics?: Record<string, number>;
  trainable?: { count: number; percent: number };
  /** The newest what-moved matrix: rows × kinds (columns), cells in `measure`. */
  change?: { step: number; measure: string; rows: string[]; kinds: string[]; cells: ChangeSummaryCell[] };
  /** Outputs saved before `change` existed (read, never written). */
  bias?: LegacyBiasSummary;
  reason?: string;
  seconds?: number;
  /** Worker wall clock of the newest step summarised: the renderer measures event → drawn latency from it. */
  lastStepTime?: number;
  /** A distillation run: each loss part at the steps of `loss` (kd, task, cos). */
  components?: Record<string, number[]>;
  /** A distillation run: the teacher and its eval metrics (the score the student is measured against). */
  teacher?: { label: string; metrics?: Record<string, number> };
  /** A distillation run's closing teacher-vs-student table. */
  distillSummary?: string;
}

export interface CompareRun {
  cellId: string;
  label: string;
  /** The method and its key settings ("LoRA r=8"). */
  method?: string;
  runId: string;
  status: RunStatus;
  loss: { step: number[]; value: number[] };
  finalMetrics: Record<string, number>;
}

export interface CompareOutput {
  v: 1;
  kind: 'compare';
  runs: CompareRun[];
  /** Config keys whose values differ between the runs (dotted paths for nested keys), one value per run. */
  diff: Array<{ key: string; values: string[] }>;
  /** How many keys are identical across all runs (not listed). */
  sameCount: number;
  /** Union of final-metric names, sorted. */
  metrics: string[];
}

/**
 * Indices of at most `max` points spread evenly over `n`, always keeping the first and the last (the
 * newest loss is what a live reader looks at).
 */
export function decimateIndices(n: number, max: number): number[] {
  if (n <= 0) return [];
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  if (max <= 1) return [n - 1];
  const out: number[] = [];
  for (let i = 0; i < max; i++) out.push(Math.round((i * (n - 1)) / (max - 1)));
  return out;
}

/** A run's view (host side, full resolution) → the compact cell output. */
export function summarizeRun(view: RunView, config: Record<string, unknown>, lastStepTime?: number): RunOutput {
  const { step, loss } = view.steps;
  const finite: number[] = [];
  for (let i = 0; i < Math.min(step.length, loss.length); i++) if (Number.isFinite(loss[i]!)) finite.push(i);
  const keep = decimateIndices(finite.length, MAX_POINTS).map((k) => finite[k]!);
  const lastChange = view.changes.at(-1);
  const evals = view.evals.slice(-MAX_EVALS).map((e) => ({ step: e.step, loss: e.loss, metrics: { ...e.metrics } }));
  const out: RunOutput = {
    v: 1,
    kind: 'run',
    runId: view.runId,
    label: view.label,
    status: view.status,
    config,
    method: methodLabel(methodOfConfig(view.started?.config ?? config), 'long'),
    step: step.at(-1) ?? 0,
    loss: { step: keep.map((i) => step[i]!), value: keep.map((i) => loss[i]!) },
    evals,
  };
  if (view.started) {
    out.totalSteps = view.started.totalSteps;
    out.trainable = { count: view.started.trainable.count, percent: view.started.trainable.percent };
  }
  const primary = view.evals.at(-1)?.primary;
  if (primary) out.primary = primary;
  if (view.end?.finalMetrics) out.finalMetrics = { ...view.end.finalMetrics };
  if (view.end?.reason) out.reason = view.end.reason.split('\n').slice(0, 6).join('\n');
  if (view.end) out.seconds = view.end.seconds;
  if (lastChange) {
    out.change = {
      step: lastChange.step,
      measure: lastChange.measure,
      rows: view.started?.heatmap.rows ?? [],
      kinds: view.started?.heatmap.kinds ?? [],
      cells: lastChange.cells.map((c) => ({ name: c.name, row: c.row, kind: c.kind, value: c.value, relative: c.relative })),
    };
  }
  if (view.components) out.components = Object.fromEntries(Object.entries(view.components).map(([k, col]) => [k, keep.map((i) => col[i] ?? NaN)]));
  const d = view.started?.distill;
  if (d) out.teacher = { label: d.teacher, ...(d.teacherMetrics ? { metrics: { ...d.teacherMetrics } } : {}) };
  if (view.distillSummary) out.distillSummary = view.distillSummary;
  // RunView keeps no step times; the controller remembers the newest one from the event batches.
  if (lastStepTime !== undefined) out.lastStepTime = lastStepTime;
  return out;
}

/** Final metrics of a run output: the end event's, else the latest evaluation's (a stopped run has none). */
export function finalMetricsOf(o: Pick<RunOutput, 'finalMetrics' | 'evals'>): Record<string, number> {
  return o.finalMetrics ?? o.evals.at(-1)?.metrics ?? {};
}
