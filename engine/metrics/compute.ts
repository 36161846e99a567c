/**
 * One call for the trainer's evaluation step: every metric that applies to the task, as a flat record the
 * dashboard can chart and a checkpoint can store, plus which one decides the best checkpoint.
 */
import { PeftStudioError } from '../errors';
import type { Task } from '../data/types';
import { accuracy, argmax, binaryPRF, macroPRF, matthewsCorrcoef } from './classification';
import { microPRF, subsetAccuracy } from './multilabel';
import { mse, pearson, spearman } from './regression';

/**
 * `predictions` are decisions, except that classification also takes a row of scores per example (logits
 * or probabilities: the argmax is the decision) and regression a one-element row:
 *  - classification: class ids (or score rows); keys accuracy, macro_f1, mcc, and for 2 labels
 *    f1/precision/recall of class 1 (MRPC and QQP report that F1).
 *  - regression: values; keys pearson, spearman, pearson_spearman (their mean, GLUE's STS-B score), mse.
 *  - multi_label: multi-hot rows (see multiHot); keys micro_f1, micro_precision, micro_recall, subset_accuracy.
 */
export function computeMetrics(
  task: Task,
  predictions: readonly number[] | readonly number[][],
  labels: readonly number[] | readonly number[][],
  numLabels: number,
): Record<string, number> {
  switch (task) {
    case 'classification': {
      const pred = predictions.map((p) => (Array.isArray(p) ? argmax(p) : (p as number)));
      const gold = scalars('classification', labels);
      const out: Record<string, number> = {
        accuracy: accuracy(pred, gold),
        macro_f1: macroPRF(pred, gold).f1,
        mcc: matthewsCorrcoef(pred, gold),
      };
      if (numLabels === 2) Object.assign(out, binaryPRF(pred, gold, 1));
      return out;
    }
    case 'regression': {
      const pred = predictions.map((p) => (Array.isArray(p) ? only(p) : (p as number)));
      const gold = scalars('regression', labels);
      const r = pearson(pred, gold);
      const rho = spearman(pred, gold);
      return { pearson: r, spearman: rho, pearson_spearman: (r + rho) / 2, mse: mse(pred, gold) };
    }
    case 'multi_label': {
      const pred = rows('multi_label predictions', predictions);
      const gold = rows('multi_label labels', labels);
      const m = microPRF(pred, gold);
      return { micro_f1: m.f1, micro_precision: m.precision, micro_recall: m.recall, subset_accuracy: subsetAccuracy(pred, gold) };
    }
  }
}

/** The metric names computeMetrics reports for a task (what `metric_for_best_model` may name). */
export function metricNames(task: Task, numLabels: number): string[] {
  if (task === 'regression') return ['pearson', 'spearman', 'pearson_spearman', 'mse'];
  if (task === 'multi_label') return ['micro_f1', 'micro_precision', 'micro_recall', 'subset_accuracy'];
  return ['accuracy', 'macro_f1', 'mcc', ...(numLabels === 2 ? ['f1', 'precision', 'recall'] : [])];
}

/** The metric that picks the best checkpoint: GLUE's choice per task (a run may override it, e.g. MCC for CoLA). */
export const PRIMARY_METRIC: Record<Task, string> = {
  classification: 'accuracy',
  regression: 'pearson_spearman',
  multi_label: 'micro_f1',
};

export function primaryMetric(task: Task): string {
  return PRIMARY_METRIC[task];
}

/** Losses and errors go down; every other metric here goes up. */
export function higherIsBetter(metric: string): boolean {
  return !(metric === 'mse' || metric === 'loss' || metric.endsWith('_loss'));
}

/** Whether `candidate` beats `best` on `metric`. NaN never wins; anything beats an undefined best. */
export function isImprovement(metric: string, candidate: number, best: number | undefined): boolean {
  if (Number.isNaN(candidate)) return false;
  if (best === undefined || Number.isNaN(best)) return true;
  return higherIsBetter(metric) ? candidate > best : candidate < best;
}

function scalars(task: Task, labels: readonly number[] | readonly number[][]): number[] {
  if (labels.some((l) => typeof l !== 'number'))
    throw new PeftStudioError('BAD_INPUT', `${task} labels must be numbers, one per example`);
  return labels as number[];
}

function rows(what: string, values: readonly number[] | readonly number[][]): number[][] {
  if (values.some((v) => !Array.isArray(v))) throw new PeftStudioError('BAD_INPUT', `${what} must be one row per example`);
  return values as number[][];
}

function only(row: readonly number[]): number {
  if (row.length !== 1) throw new PeftStudioError('BAD_INPUT', `regression expects one output per example, got ${row.length}`);
  return row[0];
}
