/**
 * Multi-label metrics over multi-hot rows (1 = the label applies). Micro-averaging pools every
 * (example, label) decision, so frequent labels weigh more, as sklearn's average='micro'.
 */
import { PeftStudioError } from '../errors';
import { prf, type PrecisionRecallF1 } from './classification';
import { checkPair } from './validate';

export function microPRF(predictions: readonly number[][], labels: readonly number[][]): PrecisionRecallF1 {
  checkRows('micro F1', predictions, labels);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    for (let j = 0; j < labels[i].length; j++) {
      const p = predictions[i][j] === 1;
      const t = labels[i][j] === 1;
      if (p && t) tp++;
      else if (p) fp++;
      else if (t) fn++;
    }
  }
  return prf(tp, fp, fn);
}

/** Share of examples whose whole label set is predicted exactly (sklearn's accuracy_score on multi-hot). */
export function subsetAccuracy(predictions: readonly number[][], labels: readonly number[][]): number {
  checkRows('subset accuracy', predictions, labels);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i].every((v, j) => v === predictions[i][j])) hits++;
  return hits / labels.length;
}

/** Scores (logits, probabilities) → multi-hot at a threshold: 0 for logits, 0.5 for sigmoid outputs. */
export function multiHot(scores: readonly number[][], threshold: number): number[][] {
  return scores.map((row) => row.map((s) => (s > threshold ? 1 : 0)));
}

function checkRows(what: string, predictions: readonly number[][], labels: readonly number[][]): void {
  checkPair(what, predictions, labels);
  for (let i = 0; i < labels.length; i++) {
    if (!Array.isArray(predictions[i]) || predictions[i].length !== labels[i].length)
      throw new PeftStudioError('BAD_INPUT', `${what}: example ${i} has ${predictions[i]?.length} predicted labels for ${labels[i].length}`);
    if (!predictions[i].every((v) => v === 0 || v === 1))
      throw new PeftStudioError('BAD_INPUT', `${what}: example ${i} is not multi-hot (0/1): threshold scores with multiHot first`);
  }
}
