/**
 * The playground page's logic, DOM-free so it is unit-tested in Node: which host messages to trust, which
 * answer is current, what the result table holds (text values first: the bars only repeat them), and which
 * keys submit.
 */
import type { HostToPlayground, OpenedRunView, PlaygroundRun, PredictionView } from '../../../protocol/playground';

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Structural check of a host message: the channel is ours, but a version skew must not break the page. */
export function isPlaygroundMessage(x: unknown): x is HostToPlayground {
  if (!isObj(x) || x.v !== 1) return false;
  switch (x.kind) {
    case 'playground/didChangeRuns':
      return Array.isArray(x.runs) && x.runs.every((r) => isObj(r) && typeof r.runId === 'string' && typeof r.label === 'string');
    case 'playground/didOpenRun':
      return isObj(x.run) && typeof x.run.runId === 'string' && Array.isArray(x.run.labels) && typeof x.run.pair === 'boolean';
    case 'playground/didPredict':
      return typeof x.requestId === 'number' && typeof x.runId === 'string' && isPrediction(x.trained) && isPrediction(x.base) && isObj(x.ms);
    case 'playground/didFail':
      return typeof x.message === 'string';
    case 'playground/didChangeBatch':
      return typeof x.runId === 'string' && typeof x.state === 'string' && typeof x.message === 'string';
    default:
      return false;
  }
}

function isPrediction(x: unknown): x is PredictionView {
  return isObj(x) && (Array.isArray(x.probabilities) || typeof x.score === 'number');
}

/**
 * Answers can overtake each other (a long sentence, then a short one): only the answer to the latest
 * request, for the run still shown, is drawn.
 */
export class Requests {
  private latest = 0;
  constructor(private next = 1) {}

  /** A fresh id; older answers become stale. */
  issue(): number {
    this.latest = this.next++;
    return this.latest;
  }

  isCurrent(requestId: number): boolean {
    return requestId === this.latest;
  }

  /** Forget what is in flight (the run changed). */
  reset(): void {
    this.latest = 0;
  }
}

export interface ResultRow {
  label: string;
  trained: number;
  base: number;
  trainedText: string;
  baseText: string;
  /** The class each model predicts (classification), or labels at or over 0.5 (multi-label). */
  trainedPicked: boolean;
  basePicked: boolean;
}

/** Probability as a percentage with one decimal; the extremes say so instead of rounding to 0 or 100. */
export function formatProbability(p: number): string {
  if (!Number.isFinite(p)) return '–';
  if (p > 0 && p < 0.0005) return '<0.1%';
  if (p < 1 && p > 0.9995) return '>99.9%';
  return `${(100 * p).toFixed(1)}%`;
}

/** Regression values: four significant digits, as the dashboard prints losses. */
export function formatScore(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return String(Number(x.toPrecision(4)));
}

export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** One row per class, in class-id order, for the trained/base comparison table. */
export function resultRows(run: Pick<OpenedRunView, 'labels' | 'task'>, trained: PredictionView, base: PredictionView): ResultRow[] {
  const tp = trained.probabilities ?? [];
  const bp = base.probabilities ?? [];
  const n = Math.max(run.labels.length, tp.length, bp.length);
  const picked = (p: PredictionView, probs: number[], i: number) => (run.task === 'multi_label' ? (probs[i] ?? 0) >= 0.5 : p.labelId === i);
  return Array.from({ length: n }, (_, i) => ({
    label: run.labels[i] ?? String(i),
    trained: tp[i] ?? NaN,
    base: bp[i] ?? NaN,
    trainedText: formatProbability(tp[i] ?? NaN),
    baseText: formatProbability(bp[i] ?? NaN),
    trainedPicked: picked(trained, tp, i),
    basePicked: picked(base, bp, i),
  }));
}

/** The one-line answer a screen reader announces: both models' verdicts, in words. */
export function summarize(run: Pick<OpenedRunView, 'labels' | 'task'>, trained: PredictionView, base: PredictionView): string {
  const one = (p: PredictionView) => {
    if (run.task === 'regression') return formatScore(p.score);
    const probs = p.probabilities ?? [];
    if (run.task === 'multi_label') {
      const on = probs.map((q, i) => [q, i] as const).filter(([q]) => q >= 0.5);
      return on.length ? on.map(([q, i]) => `${run.labels[i] ?? i} ${formatProbability(q)}`).join(', ') : 'no label';
    }
    const i = p.labelId ?? 0;
    return `${p.label ?? run.labels[i] ?? i} (${formatProbability(probs[i] ?? NaN)})`;
  };
  const cut = trained.truncated ? ' The text was longer than the model accepts and was cut.' : '';
  return `Trained: ${one(trained)}. Base: ${one(base)}.${cut}`;
}

/** Enter and Ctrl/Cmd+Enter predict; Shift+Enter is a new line; nothing fires while an IME composes. */
export function shouldSubmit(e: { key: string; shiftKey: boolean; ctrlKey: boolean; metaKey: boolean; isComposing?: boolean }): boolean {
  if (e.key !== 'Enter' || e.isComposing) return false;
  return e.ctrlKey || e.metaKey || !e.shiftKey;
}

/** The second box shows for pair runs, or when the user asked for it on a single-text run. */
export function showPairBox(run: Pick<OpenedRunView, 'pair'> | undefined, userWantsPair: boolean): boolean {
  return run?.pair === true || userWantsPair;
}

/**
 * The task runs the playground can switch between: the runs trained from the same base model as `runId`
 * (the predict worker keeps them over one shared encoder), that run first in the list's order otherwise.
 */
export function sameBaseRuns(runs: readonly PlaygroundRun[], runId: string | undefined): PlaygroundRun[] {
  const active = runs.find((r) => r.runId === runId);
  if (!active?.baseKey) return active ? [active] : [];
  return runs.filter((r) => r.baseKey === active.baseKey);
}

/** "base bert-tiny · task sentiment · LoRA r=8": which base and task the playground shows. */
export function activeBaseText(run: PlaygroundRun | undefined): string {
  if (!run) return '';
  return [run.base ? `base ${run.base}` : undefined, run.task ? `task ${run.task}` : undefined, run.method].filter(Boolean).join(' · ');
}

/** A task picker option's text: the task, then the method, the status and the metric. */
export function taskOptionText(r: PlaygroundRun): string {
  return `${r.task ?? r.label} — ${r.method ? `${r.method}, ` : ''}${r.status}${r.metric ? `, ${r.metric}` : ''}`;
}
