/**
 * AdamW that reproduces `torch.optim.AdamW` (single-tensor path: foreach=False, amsgrad=False, maximize=False)
 * op for op, so a run here can be checked against a PyTorch run step by step.
 *
 * Every tensor op below is one float32 op in the same order as torch's `_single_tensor_adamw`; the scalars
 * (bias corrections, step size, sqrt of the second correction) are computed in float64 JS numbers exactly as
 * Python computes them, and only become float32 when they meet a tensor — as in torch, whose CPU kernels
 * cast a Python scalar to the tensor's dtype. What cannot be matched bit for bit: torch's vectorised CPU
 * kernels fuse some multiply-adds (FMA), so results may differ from torch by an ulp here and there.
 *
 * The update runs over buckets: parameters laid end to end in one flat tensor of up to BUCKET_FLOATS values
 * (a larger one alone), so BitFit's dozens of small bias vectors cost one set of ops instead of a dozen ops
 * each (dispatch cost dominated: 240 kernels for BERT-Tiny's 20 bias tensors, 2 ms of a 30 ms short-sequence
 * step). Every op is elementwise, so each value goes through exactly the per-tensor arithmetic.
 *
 * Weight decay and `noDecay`: HF Trainer does not decay biases or LayerNorm weights
 * (`Trainer.get_decay_parameter_names`). With BitFit every trainable tensor is a bias, so under HF Trainer
 * *no* parameter would be decayed. This class defaults to pure torch semantics — decay everything it is
 * given — and leaves the HF behaviour to the trainer, which can pass `noDecay` (e.g. `() => true`).
 */
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';

export interface AdamWOptions {
  /** Default learning rate; `step` takes the scheduled one for each update. */
  lr: number;
  /** torch default [0.9, 0.999]. */
  betas?: [number, number];
  /** torch default 1e-8. */
  eps?: number;
  /** torch default 1e-2 (torch.optim.AdamW); HF TrainingArguments default is 0 — the trainer passes its own. */
  weightDecay?: number;
  /** Names for which weight decay is skipped (HF Trainer style). Default: none — every given tensor decays. */
  noDecay?: (name: string) => boolean;
}

export interface AdamWState {
  step: number;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

interface Slot {
  name: string;
  param: tf.Variable;
  decay: boolean;
  /** Where its values sit in its bucket's flat tensors. */
  offset: number;
}

/** Parameters updated together as one flat tensor; m and v are kept flat. */
interface Bucket {
  slots: Slot[];
  size: number;
  m: tf.Variable; // torch: exp_avg
  v: tf.Variable; // torch: exp_avg_sq
  /** Which values decay: all, none, or a mask (true: decays), kept for the optimizer's life. */
  decay: 'all' | 'none' | tf.Tensor;
}

/** Floats per bucket: small enough that the flat temporaries stay a few MB beside full fine-tuning's weights. */
export const BUCKET_FLOATS = 1 << 20;

export class AdamW {
  private readonly slots = new Map<string, Slot>();
  private readonly buckets: Bucket[] = [];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private t = 0;
  private disposed = false;

  /** Only the variables given here get optimizer state; frozen tensors are never passed in and cost nothing. */
  constructor(params: Map<string, tf.Variable>, opts: AdamWOptions) {
    const [beta1, beta2] = opts.betas ?? [0.9, 0.999];
    const eps = opts.eps ?? 1e-8;
    const weightDecay = opts.weightDecay ?? 1e-2;
    // Same checks as torch's AdamW constructor, so a bad config fails before training starts.
    checkLr(opts.lr);
    if (!(eps >= 0)) throw bad(`invalid epsilon value: ${eps}`);
    if (!(beta1 >= 0 && beta1 < 1)) throw bad(`invalid beta parameter at index 0: ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1)) throw bad(`invalid beta parameter at index 1: ${beta2}`);
    if (!(weightDecay >= 0)) throw bad(`invalid weight_decay value: ${weightDecay}`);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;

    let open: Slot[] = [];
    let filled = 0;
    for (const [name, param] of params) {
      if (param.dtype !== 'float32') {
        throw new PeftStudioError('UNSUPPORTED', `AdamW: parameter ${name} is ${param.dtype}, only float32 is supported`);
      }
      if (filled > 0 && filled + param.size > BUCKET_FLOATS) {
        this.addBucket(open, filled);
        open = [];
        filled = 0;
      }
      const slot: Slot = { name, param, decay: !(opts.noDecay?.(name) ?? false), offset: filled };
      this.slots.set(name, slot);
      open.push(slot);
      filled += param.size;
    }
    if (open.length) this.addBucket(open, filled);
  }

  private addBucket(slots: Slot[], size: number): void {
    // State starts at zero, as torch's lazily created exp_avg / exp_avg_sq (torch.zeros_like). Unnamed: tfjs
    // variable names are global, and a second optimizer over the same parameters (e.g. after a checkpoint
    // reload) must not clash.
    // tidy frees the zeros tensors; the variables survive it.
    const [m, v] = tf.tidy(() => [tf.variable(tf.zeros([size]), false), tf.variable(tf.zeros([size]), false)]);
    const decaying = slots.filter((s) => s.decay).length;
    let decay: Bucket['decay'] = decaying === slots.length ? 'all' : 'none';
    if (decaying > 0 && decaying < slots.length) {
      const mask = new Uint8Array(size);
      for (const s of slots) if (s.decay) mask.fill(1, s.offset, s.offset + s.param.size);
      decay = tf.tensor1d(mask, 'bool');
    }
    this.buckets.push({ slots, size, m: m!, v: v!, decay });
  }

  /** Number of optimizer steps taken (torch's state['step']). */
  get stepCount(): number {
    return this.t;
  }

  /**
   * One update of every parameter. `lr` is the scheduled rate for this update. Every parameter must have a
   * gradient (a zero gradient is fine): torch skips parameters whose grad is None and keeps a step count per
   * parameter, but here one count is shared, so a missing gradient is a caller bug and is reported.
   * `grads` are read, never disposed.
   */
  step(grads: Map<string, tf.Tensor>, lr: number): void {
    this.checkAlive();
    checkLr(lr);
    for (const name of grads.keys()) {
      if (!this.slots.has(name)) throw new PeftStudioError('TRAINING', `AdamW: gradient for unknown parameter ${name}`);
    }
    for (const [name, s] of this.slots) {
      const g = grads.get(name);
      if (!g) throw new PeftStudioError('TRAINING', `AdamW: no gradient for parameter ${name}`);
      if (!sameShape(g.shape, s.param.shape)) {
        throw new PeftStudioError('TRAINING', `AdamW: gradient for ${name} has shape [${g.shape}], parameter has [${s.param.shape}]`);
      }
    }

    const t = this.t + 1;
    const { beta1, beta2, eps } = this;
    // float64 scalars, exactly as Python computes them.
    const biasCorrection1 = 1 - beta1 ** t;
    const biasCorrection2 = 1 - beta2 ** t;
    const stepSize = lr / biasCorrection1;
    const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);

    tf.tidy(() => {
      // Scalars become float32 tensors once, shared by every parameter.
      const decayFactor = tf.scalar(1 - lr * this.weightDecay);
      const b1 = tf.scalar(beta1);
      const oneMinusB1 = tf.scalar(1 - beta1);
      const b2 = tf.scalar(beta2);
      const oneMinusB2 = tf.scalar(1 - beta2);
      const bc2Sqrt = tf.scalar(biasCorrection2Sqrt);
      const epsT = tf.scalar(eps);
      const negStepSize = tf.scalar(-stepSize);

      for (const b of this.buckets) {
        const flat = (ts: tf.Tensor[]) => (ts.length === 1 ? ts[0]!.reshape([-1]) : tf.concat(ts.map((x) => x.reshape([-1]))));
        const g = flat(b.slots.map((s) => grads.get(s.name)!));
        // param.mul_(1 - lr * weight_decay) — decoupled decay, before the moments. torch multiplies even when
        // the factor is 1 (weight_decay 0); so do we, it is exact. Values that do not decay are multiplied by
        // exactly 1, which changes nothing.
        const p0 = flat(b.slots.map((s) => s.param));
        const factor = b.decay === 'all' || b.decay === 'none' ? decayFactor : tf.where(b.decay, tf.fill([b.size], 1 - lr * this.weightDecay), tf.onesLike(p0));
        let p: tf.Tensor = b.decay === 'none' ? p0 : tf.mul(p0, factor);
        // exp_avg.mul_(beta1).add_(grad, alpha=1-beta1): the torch 1.13 form, which the repo's golden
        // fixture was made with. torch 2.x writes exp_avg.lerp_(grad, 1-beta1), i.e. m + (1-b1)*(g-m);
        // the two agree to within float32 rounding.
        const m = tf.add(tf.mul(b.m, b1), tf.mul(g, oneMinusB1));
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2): addcmul computes self + value*t1*t2,
        // left to right.
        const v = tf.add(tf.mul(b.v, b2), tf.mul(tf.mul(g, oneMinusB2), g));
        // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps) — eps outside the correction.
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), epsT);
        // param.addcdiv_(exp_avg, denom, value=-step_size): self + value*t1/t2, left to right.
        p = tf.add(p, tf.div(tf.mul(negStepSize, m), denom));
        // assign() takes a reference to the new data, so tidy may dispose the temporaries safely.
        b.m.assign(m);
        b.v.assign(v);
        const parts = b.slots.length === 1 ? [p] : tf.split(p, b.slots.map((s) => s.param.size));
        b.slots.forEach((s, i) => s.param.assign(parts[i]!.reshape(s.param.shape)));
      }
    });
    this.t = t;
  }

  /** Copies of the moments, keyed by parameter name, for checkpoints. */
  async stateDict(): Promise<AdamWState> {
    this.checkAlive();
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    for (const b of this.buckets) {
      // data(), not dataSync(), works on every backend. Each parameter gets its own copy: a checkpoint writer
      // that mutates one array must not reach into the optimizer or into another parameter's values.
      const bm = (await b.m.data()) as Float32Array;
      const bv = (await b.v.data()) as Float32Array;
      for (const s of b.slots) {
        m[s.name] = bm.slice(s.offset, s.offset + s.param.size);
        v[s.name] = bv.slice(s.offset, s.offset + s.param.size);
      }
    }
    return { step: this.t, m, v };
  }

  /** Restores a `stateDict()`; names and sizes must match the parameters this optimizer was built with. */
  loadStateDict(s: AdamWState): void {
    this.checkAlive();
    if (!Number.isInteger(s.step) || s.step < 0) {
      throw new PeftStudioError('WEIGHTS_MISMATCH', `AdamW state: step must be a non-negative integer, got ${s.step}`);
    }
    const names = [...this.slots.keys()];
    for (const key of ['m', 'v'] as const) {
      const have = Object.keys(s[key]);
      const extra = have.filter((n) => !this.slots.has(n));
      const missing = names.filter((n) => !(n in s[key]));
      if (extra.length || missing.length) {
        throw new PeftStudioError(
          'WEIGHTS_MISMATCH',
          `AdamW state '${key}' does not match the parameters: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`,
        );
      }
      for (const [name, slot] of this.slots) {
        if (s[key][name].length !== slot.param.size) {
          throw new PeftStudioError(
            'WEIGHTS_MISMATCH',
            `AdamW state '${key}' for ${name} has ${s[key][name].length} values, parameter has ${slot.param.size}`,
          );
        }
      }
    }
    // Validated everything first, so a bad state leaves the optimizer untouched.
    for (const b of this.buckets) {
      // Copied in: a new array per bucket, so the caller's arrays are never the tensors' buffers.
      const bm = new Float32Array(b.size);
      const bv = new Float32Array(b.size);
      for (const slot of b.slots) {
        bm.set(s.m[slot.name], slot.offset);
        bv.set(s.v[slot.name], slot.offset);
      }
      tf.tidy(() => {
        b.m.assign(tf.tensor1d(bm, 'float32'));
        b.v.assign(tf.tensor1d(bv, 'float32'));
      });
    }
    this.t = s.step;
  }

  /** Frees the moments (not the parameters, which belong to the model). */
  dispose(): void {
    if (this.disposed) return;
    for (const b of this.buckets) {
      b.m.dispose();
      b.v.dispose();
      if (typeof b.decay !== 'string') b.decay.dispose();
    }
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new PeftStudioError('TRAINING', 'AdamW: used after dispose()');
  }
}

function checkLr(lr: number): void {
  if (!(lr >= 0) || !Number.isFinite(lr)) throw bad(`invalid learning rate: ${lr}`);
}

function bad(message: string): PeftStudioError {
  return new PeftStudioError('BAD_INPUT', `AdamW: ${message}`);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
