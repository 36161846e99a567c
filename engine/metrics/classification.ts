/**
 * Single-label classification metrics with scikit-learn's semantics, so numbers match what users see in
 * HF's evaluate/sklearn: a class counts when it occurs in the labels or in the predictions, and a ratio
 * whose denominator is 0 is 0 (sklearn's zero_division=0, which it also falls back to after warning).
 */
import { checkPair } from './validate';

export function accuracy(predictions: readonly number[], labels: readonly number[]): number {
  checkPair('accuracy', predictions, labels);
  let hits = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) hits++;
  return hits / labels.length;
}

export interface PrecisionRecallF1 {
  precision: number;
  recall: number;
  f1: number;
}

/** Counts of true positives, false positives and false negatives for one class. */
function counts(predictions: readonly number[], labels: readonly number[], cls: number) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = predictions[i] === cls;
    const t = labels[i] === cls;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn };
}

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

/** Precision, recall and F1 from counts. F1 as 2tp / (2tp + fp + fn), which equals 2PR / (P + R) when defined. */
export function prf(tp: number, fp: number, fn: number): PrecisionRecallF1 {
  return { precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn), f1: ratio(2 * tp, 2 * tp + fp + fn) };
}

/** sklearn's average='binary': the scores of one class, `positive` (default 1). */
export function binaryPRF(predictions: readonly number[], labels: readonly number[], positive = 1): PrecisionRecallF1 {
  checkPair('binary F1', predictions, labels);
  const { tp, fp, fn } = counts(predictions, labels, positive);
  return prf(tp, fp, fn);
}

/** The classes sklearn scores: those in the labels or the predictions, ascending. */
export function presentClasses(predictions: readonly number[], labels: readonly number[]): number[] {
  return [...new Set([...labels, ...predictions])].sort((a, b) => a - b);
}

/** sklearn's average='macro': the unweighted mean over present classes. */
export function macroPRF(predictions: readonly number[], labels: readonly number[]): PrecisionRecallF1 {
  checkPair('macro F1', predictions, labels);
  const classes = presentClasses(predictions, labels);
  const sum = { precision: 0, recall: 0, f1: 0 };
  for (const c of classes) {
    const { tp, fp, fn } = counts(predictions, labels, c);
    const s = prf(tp, fp, fn);
    sum.precision += s.precision;
    sum.recall += s.recall;
    sum.f1 += s.f1;
  }
  const k = classes.length;
  return { precision: sum.precision / k, recall: sum.recall / k, f1: sum.f1 / k };
}

/**
 * Matthews correlation, multi-class as sklearn's matthews_corrcoef (Gorodkin's R_K). With t_k the times
 * class k truly occurs, p_k the times it is predicted, c the correct predictions and s the examples:
 *   (c·s − Σ t_k p_k) / √((s² − Σ p_k²)(s² − Σ t_k²)),
 * and 0 when a factor under the root is 0 (all labels, or all predictions, one class).
 */
export function matthewsCorrcoef(predictions: readonly number[], labels: readonly number[]): number {
  checkPair('MCC', predictions, labels);
  const t = new Map<number, number>();
  const p = new Map<number, number>();
  let c = 0;
  for (let i = 0; i < labels.length; i++) {
    t.set(labels[i], (t.get(labels[i]) ?? 0) + 1);
    p.set(predictions[i], (p.get(predictions[i]) ?? 0) + 1);
    if (predictions[i] === labels[i]) c++;
  }
  const s = labels.length;
  let tp = 0;
  for (const [k, tk] of t) tp += tk * (p.get(k) ?? 0);
  const sq = (m: Map<number, number>) => [...m.values()].reduce((a, v) => a + v * v, 0);
  const covPP = s * s - sq(p);
  const covTT = s * s - sq(t);
  if (covPP === 0 || covTT === 0) return 0;
  return (c * s - tp) / Math.sqrt(covPP * covTT);
}

/** Index of the largest score (the first, on ties, as numpy's argmax). */
export function argmax(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i] > scores[best]) best = i;
  return best;
}
