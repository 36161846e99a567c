/**
 * Run columns → chart.js points. chart.js's decimation plugin only works on pre-parsed `{x, y}` data
 * (`parsing: false`, sorted by x, linear x axis), so every series is kept in that form, appended to as
 * events arrive rather than rebuilt: a 100k-step run costs one pass when it is first shown and a few
 * points per batch after that. DOM-free, so the mapping is unit-tested in Node.
 */
import type { RunView } from '../../../protocol/webview';
import type { EvalEvent } from '../../../engine/protocol/events';
import { Ema } from './smoothing';

export interface Point {
  x: number;
  y: number;
}

/** Appends (xs[i], ys[i]) for i ≥ from, skipping non-finite y (a log axis cannot draw them, and a gap says enough). */
export function appendPoints(out: Point[], xs: readonly number[], ys: readonly number[], from: number): void {
  const n = Math.min(xs.length, ys.length);
  for (let i = from; i < n; i++) {
    const y = ys[i]!;
    if (Number.isFinite(y)) out.push({ x: xs[i]!, y });
  }
}

/** The metric an eval chart shows for a run: the one asked for, else the run's own primary metric. */
export function metricOf(evals: readonly EvalEvent[], wanted: string): string | undefined {
  if (wanted) return wanted;
  return evals.length ? evals[evals.length - 1]!.primary : undefined;
}

export function evalPoints(evals: readonly EvalEvent[], pick: (e: EvalEvent) => number | undefined): Point[] {
  const out: Point[] = [];
  for (const e of evals) {
    const y = pick(e);
    if (y !== undefined && Number.isFinite(y)) out.push({ x: e.step, y });
  }
  return out;
}

/** Every metric name any of the runs reported, sorted, for the metric picker. */
export function metricNames(runs: readonly RunView[]): string[] {
  const names = new Set<string>();
  for (const r of runs) for (const e of r.evals) for (const k of Object.keys(e.metrics)) names.add(k);
  return [...names].sort();
}

/**
 * One run's chart series. `sync` appends what is new since the last call; it starts over when the run's
 * generation changes (snapshot, resume truncation), and re-smooths when the smoothing weight does. Arrays
 * are replaced, not cleared, on a restart, so a chart holding the old ones never sees a half-built series.
 */
export class RunSeries {
  raw: Point[] = [];
  smoothed: Point[] = [];
  lr: Point[] = [];
  evalLoss: Point[] = [];
  metric: Point[] = [];
  metricName: string | undefined;
  /** Distillation runs only: loss parts, the teacher's reference line, agreement with the teacher. */
  distill: DistillSeries = { components: [], teacher: undefined, agreement: [] };
  teacherLine: Point[] = [];

  private gen = -1;
  private consumed = 0;
  private evalsConsumed = -1;
  private weight = -1;
  private wantedMetric = '';
  private ema = new Ema(0);

  constructor(readonly runId: string) {}

  /** True when any series changed. */
  sync(view: RunView, gen: number, weight: number, wantedMetric: string): boolean {
    let changed = false;
    if (gen !== this.gen) {
      this.gen = gen;
      this.weight = weight;
      this.consumed = 0;
      this.evalsConsumed = -1;
      this.raw = [];
      this.smoothed = [];
      this.lr = [];
      this.ema = new Ema(weight);
      changed = true;
    } else if (weight !== this.weight) {
      // Slider moved: only the smoothed line depends on it (one pass over the raw points, none over the run).
      this.weight = weight;
      this.ema = new Ema(weight);
      this.smoothed = this.raw.map((p) => ({ x: p.x, y: this.ema.push(p.y) }));
      changed = true;
    }
    const { step, loss, lr } = view.steps;
    const n = Math.min(step.length, loss.length);
    if (n > this.consumed) {
      const from = this.raw.length;
      appendPoints(this.raw, step, loss, this.consumed);
      for (let i = from; i < this.raw.length; i++) this.smoothed.push({ x: this.raw[i]!.x, y: this.ema.push(this.raw[i]!.y) });
      appendPoints(this.lr, step, lr, this.consumed);
      this.consumed = n;
      changed = true;
    }
    if (view.evals.length !== this.evalsConsumed || wantedMetric !== this.wantedMetric) {
      this.evalsConsumed = view.evals.length;
      this.wantedMetric = wantedMetric;
      const name = metricOf(view.evals, wantedMetric);
      this.metricName = name;
      this.evalLoss = evalPoints(view.evals, (e) => e.loss);
      this.metric = name === undefined ? [] : evalPoints(view.evals, (e) => e.metrics[name]);
      changed = true;
    }
    if (changed && (view.components || view.started?.distill)) {
      const tm = view.started?.distill?.teacherMetrics;
      this.distill = distillSeries(view, this.metricName ?? (tm ? Object.keys(tm)[0] : undefined));
      const xs = view.steps.step;
      this.teacherLine = referenceLine(this.distill.teacher, xs[0] ?? 0, Math.max(xs.at(-1) ?? 0, view.started?.totalSteps ?? 0));
    }
    return changed;
  }
}

/** A distillation run's extra chart lines: each loss part, the teacher's score and the student's agreement with it. */
export interface DistillSeries {
  /** One line per loss part (kd, task, cos), in the order the run first reported them. */
  components: Array<{ name: string; points: Point[] }>;
  /** The teacher's eval score on the charted metric: a horizontal reference line; undefined when the run has none. */
  teacher: number | undefined;
  /** The student's `teacher_agreement` at each evaluation. */
  agreement: Point[];
}

/** The distillation lines of a run (empty for any other run); `metric` is the metric the chart shows. */
export function distillSeries(view: RunView, metric: string | undefined): DistillSeries {
  const components = Object.entries(view.components ?? {}).map(([name, ys]) => {
    const points: Point[] = [];
    appendPoints(points, view.steps.step, ys, 0);
    return { name, points };
  });
  const tm = view.started?.distill?.teacherMetrics;
  const teacher = metric !== undefined && tm && Number.isFinite(tm[metric]) ? tm[metric] : undefined;
  const agreement = metric === 'teacher_agreement' ? [] : evalPoints(view.evals, (e) => e.metrics.teacher_agreement);
  return { components, teacher, agreement };
}

/** A horizontal line at `y` across [x0, x1] (the teacher's score over the run's steps). */
export function referenceLine(y: number | undefined, x0: number, x1: number): Point[] {
  return y === undefined || !Number.isFinite(y) ? [] : [{ x: x0, y }, { x: Math.max(x1, x0), y }];
}
