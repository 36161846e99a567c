/**
 * Evaluation: loss and metrics over a dataset, in eval mode (no dropout). Batches are formed by length so
 * padding is minimal; order does not change the metrics. Used by the trainer and `peft-studio eval`.
 */
import { tf, tidy } from '../backend/tf';
import type { Task } from '../data/types';
import { computeMetrics } from '../metrics';
import type { ProblemType } from '../model/config';
import { sequenceClassificationLoss, type EncoderModel } from '../model/model';
import { disposeBatch, makeTensorBatch, type EncodedSet } from './batches';

export interface EvalResult {
  loss: number;
  metrics: Record<string, number>;
  examples: number;
  seconds: number;
  /** Per example, in dataset order: the logits row. */
  logits: number[][];
}

export function taskOf(problem: ProblemType): Task {
  return problem === 'regression' ? 'regression' : problem === 'multi_label_classification' ? 'multi_label' : 'classification';
}

export async function evaluate(model: EncoderModel, set: EncodedSet, problem: ProblemType, padId: number, batchSize: number): Promise<EvalResult> {
  const t0 = performance.now();
  // Sorted by length (seed and epoch are irrelevant when bucketing a single window of everything).
  const order = [...set.lengths.keys()].sort((a, b) => set.lengths[a]! - set.lengths[b]!);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  const logits: number[][] = new Array(set.lengths.length);
  let lossSum = 0;
  for (const idx of batches) {
    const batch = makeTensorBatch(set, idx, padId, problem);
    const { out, loss } = tidy(() => {
      const out = model.forward(batch.inputs).logits!;
      return { out, loss: sequenceClassificationLoss(out, batch.labels, problem) };
    });
    const rows = (await out.array()) as number[][];
    lossSum += (await loss.data())[0]! * idx.length;
    idx.forEach((exampleIndex, r) => (logits[exampleIndex] = rows[r]!));
    tf.dispose([out, loss]);
    disposeBatch(batch);
  }
  const task = taskOf(problem);
  const numLabels = model.config.numLabels;
  const predictions =
    task === 'multi_label' ? logits.map((row) => row.map((z) => (z > 0 ? 1 : 0))) : task === 'regression' ? logits.map((r) => r[0]!) : logits;
  // Unlabelled rows (distillation on raw text) have no metrics to give.
  const labelled = set.labels.length > 0 && set.labels.every((l) => l !== undefined);
  const metrics = labelled ? computeMetrics(task, predictions, set.labels as number[] | number[][], numLabels) : {};
  return { loss: lossSum / Math.max(1, set.lengths.length), metrics, examples: set.lengths.length, seconds: (performance.now() - t0) / 1000, logits };
}
