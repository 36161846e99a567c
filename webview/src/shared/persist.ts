/**
 * What `vscode.setState` keeps. VS Code serialises the state on every call, and a 100k-step run is ~10 MB of
 * JSON, so the saved copy is bounded: each run's step columns are thinned to at most MAX_POINTS (evenly, the
 * last step always kept) and its what-moved summaries to MAX_CHANGE_FRAMES. It only has to paint something
 * right away when the panel is revived; the host's full snapshot replaces it as soon as `ready` is answered.
 */
import type { RunView } from '../../../protocol/webview';
import type { Snapshot } from './store';

export const MAX_POINTS = 5000;
export const MAX_CHANGE_FRAMES = 40;

/** Indices 0…n-1 thinned to at most `max`, evenly spaced, always including the last. */
export function thinIndices(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let k = 0; k < max; k++) out.push(Math.round((k * (n - 1)) / (max - 1)));
  return out;
}

export function compactRun(run: RunView, maxPoints = MAX_POINTS, maxFrames = MAX_CHANGE_FRAMES): RunView {
  const keep = thinIndices(run.steps.step.length, maxPoints);
  const pick = (xs: number[]) => (keep.length === xs.length ? xs : keep.map((i) => xs[i]!));
  const s = run.steps;
  return {
    ...run,
    steps: { step: pick(s.step), loss: pick(s.loss), lr: pick(s.lr), gradNorm: pick(s.gradNorm), tokensPerSec: pick(s.tokensPerSec), epoch: pick(s.epoch) },
    changes: thinIndices(run.changes.length, maxFrames).map((i) => run.changes[i]!),
  };
}

export function compactSnapshot(s: Snapshot, maxPoints = MAX_POINTS): Snapshot {
  return { timestamp: s.timestamp, selected: s.selected, runs: s.runs.map((r) => compactRun(r, maxPoints)) };
}
