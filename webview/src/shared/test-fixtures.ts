/**
 * Synthetic run events for unit tests and the dev smoke page (webview/dev): a BERT-base-shaped BitFit run
 * with a decaying noisy loss, periodic evals and what-moved summaries (`change`, or the older `biasChange`
 * with `legacy`), and a LoRA run. Deterministic (seeded), never shipped.
 */
import { BITFIT_MEASURE, type BiasCell, type ChangeCell, type RunEvent, type StartedEvent } from '../../../engine/protocol/events';

export const KINDS = ['query', 'key', 'value', 'attention.output', 'attention.LayerNorm', 'intermediate', 'output', 'output.LayerNorm'];

export function started(runId: string, layers = 12, totalSteps = 1000): StartedEvent {
  const rows = ['embeddings', ...Array.from({ length: layers }, (_, i) => `layer.${i}`), 'pooler', 'classifier'];
  return {
    v: 1,
    type: 'started',
    runId,
    time: '2025-01-01T00:00:00Z',
    config: {},
    method: 'bitfit',
    trainable: { count: 102_914, total: 109_484_547, percent: 0.094, tensors: [] },
    backend: { active: 'tensorflow', attempts: [{ name: 'tensorflow', ok: true }] },
    data: { train: 67_349, eval: 872, badRows: 0, task: 'classification', numLabels: 2, id2label: { 0: 'negative', 1: 'positive' } },
    totalSteps,
    stepsPerEpoch: Math.ceil(totalSteps / 3),
    heatmap: { rows, kinds: KINDS, measure: BITFIT_MEASURE },
    notices: [],
  };
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32;
}

export interface SyntheticOptions {
  steps: number;
  layers?: number;
  totalSteps?: number;
  evalEvery?: number;
  biasEvery?: number;
  seed?: number;
  /** Write what-moved reports as the older `biasChange` events (runs from before the `change` event). */
  legacy?: boolean;
}

export function syntheticRun(runId: string, o: SyntheticOptions): RunEvent[] {
  const layers = o.layers ?? 12;
  const total = o.totalSteps ?? o.steps;
  const rand = rng(o.seed ?? 1);
  const s = started(runId, layers, total);
  const events: RunEvent[] = [s];
  for (let step = 1; step <= o.steps; step++) {
    const loss = 0.25 + 0.45 * Math.exp(-step / (total / 4)) + (rand() - 0.5) * 0.2;
    const lr = 1e-3 * Math.min(1, step / (total * 0.06)) * Math.max(0, 1 - step / total);
    events.push({ v: 1, type: 'step', step, epoch: step / s.stepsPerEpoch, loss, lr, gradNorm: 1 + rand(), tokensPerSec: 9000 + rand() * 800, time: step * 0.1 });
    if (o.evalEvery && step % o.evalEvery === 0) {
      const acc = 0.8 + 0.12 * (1 - Math.exp(-step / (total / 3))) + rand() * 0.01;
      const prevBest = events.filter((e) => e.type === 'eval').reduce((m, e) => Math.max(m, e.metrics.accuracy ?? 0), 0);
      events.push({ v: 1, type: 'eval', step, epoch: step / s.stepsPerEpoch, loss: loss + 0.03, metrics: { accuracy: acc, f1: acc - 0.01 }, primary: 'accuracy', isBest: acc > prevBest, examples: 872, seconds: 2 });
    }
    if (o.biasEvery && step % o.biasEvery === 0) {
      const cells = biasCells(s, step / total, rand);
      // Today's BitFit runs write `change` events (value = mean |Δb|); older ones wrote `biasChange`.
      events.push(o.legacy ? { v: 1, type: 'biasChange', step, cells } : { v: 1, type: 'change', step, measure: BITFIT_MEASURE, cells: cells.map((c) => ({ ...c, value: c.meanAbs })) });
    }
  }
  return events;
}

function biasCells(s: StartedEvent, progress: number, rand: () => number): BiasCell[] {
  const cells: BiasCell[] = [];
  const add = (name: string, row: string, kind: string, scale: number, fresh = false) => {
    const meanAbs = scale * progress * (0.6 + rand() * 0.8) * 1e-2;
    const top = Array.from({ length: 5 }, (_, i) => ({ index: Math.floor(rand() * 768), delta: (rand() < 0.5 ? -1 : 1) * meanAbs * (5 - i) }));
    cells.push({ name, row, kind, meanAbs, relative: fresh ? null : meanAbs * 20, top });
  };
  add('bert.embeddings.LayerNorm.bias', 'embeddings', 'embeddings.LayerNorm', 0.5);
  const layers = s.heatmap.rows.filter((r) => r.startsWith('layer.')).length;
  const paths: Record<string, string> = {
    query: 'attention.self.query', key: 'attention.self.key', value: 'attention.self.value', 'attention.output': 'attention.output.dense',
    'attention.LayerNorm': 'attention.output.LayerNorm', intermediate: 'intermediate.dense', output: 'output.dense', 'output.LayerNorm': 'output.LayerNorm',
  };
  for (let l = 0; l < layers; l++)
    for (const k of KINDS) {
      // BitFit's finding: query and intermediate biases move most, more so in later layers.
      const scale = (k === 'query' ? 2 : k === 'intermediate' ? 1.6 : k === 'key' ? 0.05 : 0.7) * (0.5 + l / layers);
      add(`bert.encoder.layer.${l}.${paths[k]}.bias`, `layer.${l}`, k, scale);
    }
  add('bert.pooler.dense.bias', 'pooler', 'pooler', 0.8);
  add('classifier.bias', 'classifier', 'head', 3, true);
  return cells;
}

/**
 * A finished LoRA run (r = 8 on query and value) with `change` events as the engine writes them today:
 * ‖ΔW‖F / ‖W‖F per target, with singular values and unit lists.
 */
export function syntheticLoraRun(runId: string, steps = 300, layers = 12, seed = 5): RunEvent[] {
  const rand = rng(seed);
  const kinds = ['query', 'value'];
  const base = started(runId, layers, steps);
  const s: StartedEvent = {
    ...base,
    config: { method: { name: 'lora', r: 8, lora_alpha: 16, target_modules: ['query', 'value'] } },
    method: 'lora',
    trainable: { count: 296_450, total: 109_780_000, percent: 0.27, tensors: [] },
    heatmap: { rows: base.heatmap.rows, kinds, measure: '‖ΔW‖F / ‖W‖F' },
  };
  const events: RunEvent[] = [s];
  for (let step = 1; step <= steps; step++) {
    events.push({ v: 1, type: 'step', step, epoch: step / s.stepsPerEpoch, loss: 0.3 + 0.4 * Math.exp(-step / (steps / 4)) + (rand() - 0.5) * 0.15, lr: 5e-4 * (1 - step / steps), gradNorm: 1, tokensPerSec: 8000, time: step * 0.1 });
    if (step % 30 !== 0) continue;
    const cells: ChangeCell[] = [];
    for (let l = 0; l < layers; l++)
      for (const k of kinds) {
        const value = (step / steps) * (k === 'value' ? 0.02 : 0.012) * (0.5 + l / layers) * (0.8 + rand() * 0.4);
        const sv = Array.from({ length: 8 }, (_, i) => value * 30 * Math.exp(-i / 1.5));
        const outs = Array.from({ length: 8 }, (_, i) => ({ label: `out ${Math.floor(rand() * 768)}`, value: value * 4 * (8 - i) }));
        const ins = Array.from({ length: 8 }, (_, i) => ({ label: `in ${Math.floor(rand() * 768)}`, value: value * 3 * (8 - i) }));
        cells.push({
          name: `bert.encoder.layer.${l}.attention.self.${k}`,
          row: `layer.${l}`,
          kind: k,
          value,
          relative: value,
          top: outs.map((o) => ({ index: Number(o.label.slice(4)), delta: o.value })),
          details: [
            { title: 'singular values of ΔW', items: sv.map((v, i) => ({ label: `σ${i + 1}`, value: v })) },
            { title: 'output units moved most (‖ΔW row‖)', items: outs },
            { title: 'input units read most (‖ΔW column‖)', items: ins },
          ],
        });
      }
    events.push({ v: 1, type: 'change', step, measure: '‖ΔW‖F / ‖W‖F', cells });
  }
  events.push({ v: 1, type: 'finished', step: steps, time: '2025-01-01T01:00:00Z', seconds: 60 });
  return events;
}
