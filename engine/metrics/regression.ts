/**
 * Regression metrics as scipy/sklearn compute them (STS-B's Pearson and Spearman, MSE). One deliberate
 * difference: a correlation with a constant series is undefined, and scipy returns nan with a warning;
 * here it is 0 ("no linear association"), as sklearn's MCC does, so that a run's metric history and its
 * best-checkpoint comparison never carry NaN.
 */
import { checkPair } from './validate';

export function mse(predictions: readonly number[], labels: readonly number[]): number {
  checkPair('MSE', predictions, labels);
  let sum = 0;
  for (let i = 0; i < labels.length; i++) sum += (predictions[i] - labels[i]) ** 2;
  return sum / labels.length;
}

/** Pearson's r, computed about the means (two passes) to avoid the cancellation of Σxy − n·x̄·ȳ. */
export function pearson(x: readonly number[], y: readonly number[]): number {
  checkPair('Pearson', x, y);
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return 0;
  // Rounding can push |r| a hair past 1 for perfectly (anti)correlated data; clamp as scipy does.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, ties given the average of the ranks they span (scipy.stats.rankdata 'average'). */
export function rankAverage(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && values[order[j + 1]] === values[order[i]]) j++;
    const avg = (i + j) / 2 + 1; // positions i..j hold ranks i+1..j+1
    for (let k = i; k <= j; k++) ranks[order[k]] = avg;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's ρ: Pearson's r of the average ranks, as scipy.stats.spearmanr. */
export function spearman(x: readonly number[], y: readonly number[]): number {
  checkPair('Spearman', x, y);
  return pearson(rankAverage(x), rankAverage(y));
}
