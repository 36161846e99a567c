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
    return changed;
  }
}
