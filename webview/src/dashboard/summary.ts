/** What the metric cards show for one run, computed from its view (DOM-free, unit-tested). */
import { methodLabel, methodOfConfig } from '../../../protocol/method';
import type { RunStatus, RunView } from '../../../protocol/webview';

export interface RunSummary {
  status: RunStatus;
  step: number | undefined;
  totalSteps: number | undefined;
  epoch: number | undefined;
  loss: number | undefined;
  lr: number | undefined;
  /** Mean over the last TOKENS_WINDOW steps: one step's throughput is too noisy to read. */
  tokensPerSec: number | undefined;
  best: { metric: string; value: number; step: number } | undefined;
  trainable: { count: number; total: number; percent: number } | undefined;
  backend: string | undefined;
  /** The method and its key settings ("LoRA r=8"), and every setting that is not its default. */
  method: { short: string; long: string } | undefined;
}

export const TOKENS_WINDOW = 20;

const last = (xs: readonly number[]): number | undefined => (xs.length ? xs[xs.length - 1] : undefined);

export function summarize(view: RunView): RunSummary {
  const s = view.steps;
  const tail = s.tokensPerSec.slice(-TOKENS_WINDOW).filter(Number.isFinite);
  return {
    status: view.status,
    step: view.end?.step ?? last(s.step),
    totalSteps: view.started?.totalSteps,
    epoch: last(s.epoch),
    loss: last(s.loss),
    lr: last(s.lr),
    tokensPerSec: tail.length ? tail.reduce((a, b) => a + b, 0) / tail.length : undefined,
    best: bestEval(view),
    trainable: view.started ? { count: view.started.trainable.count, total: view.started.trainable.total, percent: view.started.trainable.percent } : undefined,
    backend: view.started?.backend.active,
    method: view.started ? methodSummary(view.started.config, view.started.method) : undefined,
  };
}

/** From the run's resolved config (today's `method: {name, …}`, or an older run's `method: 'bitfit'` + `bias_terms`). */
export function methodSummary(config: Record<string, unknown>, name?: string): { short: string; long: string } {
  const spec = methodOfConfig(config.method === undefined && name ? { ...config, method: name } : config);
  return { short: methodLabel(spec, 'short'), long: methodLabel(spec, 'long') };
}

/** The latest evaluation the trainer flagged best (it knows whether the primary metric is higher- or lower-is-better). */
export function bestEval(view: RunView): RunSummary['best'] {
  for (let i = view.evals.length - 1; i >= 0; i--) {
    const e = view.evals[i]!;
    const value = e.metrics[e.primary];
    if (e.isBest && value !== undefined) return { metric: e.primary, value, step: e.step };
  }
  return undefined;
}
