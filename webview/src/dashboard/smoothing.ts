/**
 * TensorBoard's scalar smoothing: an exponential moving average, debiased so the first points are not
 * dragged towards zero (same code path as tensorboard/webapp/widgets/line_chart_v2/lib/data_transformer):
 *
 *   last = last·w + (1 − w)·x;   n += 1;   smoothed = last / (1 − wⁿ)
 *
 * Non-finite values pass through unsmoothed and do not advance n; a constant series is returned unchanged
 * (the debiasing division would otherwise add float noise to a flat line). TensorBoard checks the whole series
 * for constancy; the incremental form checks the points seen so far, which differs only by that float noise.
 */

/** TensorBoard's slider range: 0 (off) to 0.999. */
export const MAX_WEIGHT = 0.999;

export function clampWeight(w: number): number {
  return Number.isFinite(w) ? Math.min(MAX_WEIGHT, Math.max(0, w)) : 0;
}

/** Incremental form, for appending live points without recomputing the whole series. */
export class Ema {
  private last = 0;
  private n = 0;
  private first: number | undefined;
  private constant = true;
  readonly weight: number;

  constructor(weight: number) {
    this.weight = clampWeight(weight);
  }

  push(x: number): number {
    if (!Number.isFinite(x)) return x;
    this.last = this.last * this.weight + (1 - this.weight) * x;
    this.n++;
    if (this.first === undefined) this.first = x;
    else if (x !== this.first) this.constant = false;
    return this.constant ? x : this.last / (1 - Math.pow(this.weight, this.n));
  }
}

export function smooth(values: ArrayLike<number>, weight: number): number[] {
  const ema = new Ema(weight);
  return Array.from(values, (x) => ema.push(x));
}
