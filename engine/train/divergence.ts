/**
 * Divergence: a run whose loss climbs far above where it started, or whose gradient norm explodes, is not
 * learning, even while every number stays finite (a learning rate of 1e6 gives losses of 1e7 and exits 0).
 * The first step's loss and gradient norm are the reference: both are measured before any update, on the
 * model as loaded. Each kind of divergence is reported once, at the step it is first seen.
 */

export interface DivergenceOptions {
  /** A loss above this many times the first step's loss (and above `minLoss`) is divergence. */
  lossFactor?: number;
  /** Losses below this never count as divergence, however small the first one was. */
  minLoss?: number;
  /** A gradient norm above this many times the first step's (and above `minGradNorm`) is an explosion. */
  gradFactor?: number;
  minGradNorm?: number;
}

export interface DivergenceWarning {
  kind: 'loss' | 'gradNorm';
  step: number;
  message: string;
}

const DEFAULTS: Required<DivergenceOptions> = { lossFactor: 20, minLoss: 1, gradFactor: 1000, minGradNorm: 100 };

export class DivergenceMonitor {
  private readonly o: Required<DivergenceOptions>;
  private firstLoss?: number;
  private firstGradNorm?: number;
  private readonly seen = new Set<DivergenceWarning['kind']>();
  /** Every warning given so far, in order. */
  readonly warnings: DivergenceWarning[] = [];

  constructor(opts: DivergenceOptions = {}) {
    this.o = { ...DEFAULTS, ...opts };
  }

  /**
   * Takes one finished step (its number as the step events count, its loss before the update and its
   * gradient norm before clipping). Returns the warnings this step raises (usually none).
   */
  observe(step: number, loss: number, gradNorm: number): DivergenceWarning[] {
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) return []; // non-finite values end the run elsewhere
    if (this.firstLoss === undefined) {
      this.firstLoss = loss;
      this.firstGradNorm = gradNorm;
      return [];
    }
    const out: DivergenceWarning[] = [];
    const lossLimit = Math.max(this.o.lossFactor * this.firstLoss, this.o.minLoss);
    if (!this.seen.has('loss') && loss > lossLimit) {
      out.push({
        kind: 'loss',
        step,
        message: `training is diverging: the loss at step ${step} is ${fmt(loss)}, ${fmt(loss / Math.max(this.firstLoss, 1e-12))}× the first step's ${fmt(this.firstLoss)} — lower learning_rate (or set max_grad_norm)`,
      });
    }
    const gradLimit = Math.max(this.o.gradFactor * this.firstGradNorm!, this.o.minGradNorm);
    if (!this.seen.has('gradNorm') && gradNorm > gradLimit) {
      out.push({
        kind: 'gradNorm',
        step,
        message: `exploding gradients: the gradient norm at step ${step} is ${fmt(gradNorm)}, ${fmt(gradNorm / Math.max(this.firstGradNorm!, 1e-12))}× the first step's ${fmt(this.firstGradNorm!)} — lower learning_rate (or set max_grad_norm)`,
      });
    }
    for (const w of out) {
      this.seen.add(w.kind);
      this.warnings.push(w);
    }
    return out;
  }
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}
