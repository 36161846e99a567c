/**
 * DistilBERT's task-specific loss as the step's Objective. Per batch (mean over its rows):
 *   kd   = T² · Σ_l p_t,l (log p_t,l − log p_s,l),  p = softmax(z / T)        (KLDivLoss batchmean × T²)
 *          multi-label: the Bernoulli KL per label, T² · mean over labels;  regression: MSE(z_s, z_t)
 *   task = HF's loss on the labels
 *   cos  = 1 − cos(h_s[CLS], h_t[CLS])                                         (CosineEmbeddingLoss, target 1)
 * Each component's batch mean is recorded so the run can chart them apart.
 */
import { tf } from '../backend/tf';
import { PeftStudioError } from '../errors';
import type { ProblemType } from '../model/config';
import { sequenceClassificationLoss, type EncoderModel } from '../model/model';
import type { TensorBatch } from '../train/batches';
import type { Objective } from '../train/step';
import type { TeacherOutputs } from './cache';
import type { DistillSettings } from './config';

export class DistillObjective implements Objective {
  private sums: Record<string, number> = {};
  private rows = 0;

  constructor(
    private readonly teacher: TeacherOutputs,
    private readonly s: DistillSettings,
    private readonly problem: ProblemType,
  ) {}

  loss(model: EncoderModel, batch: TensorBatch, opts: { training: boolean; dropoutSeed: number }): tf.Scalar {
    const idx = batch.indices;
    if (!idx) throw new PeftStudioError('TRAINING', 'distillation needs each batch row’s example index');
    const out = model.forward(batch.inputs, opts);
    const zs = out.logits!;
    const L = this.teacher.numLabels;
    const zt = tf.tensor2d(gather(this.teacher.logits, idx, L), [idx.length, L]);
    const parts: Record<string, tf.Scalar> = {};
    if (this.s.alpha_kd > 0) parts.kd = distillationTerm(zs, zt, this.problem, this.s.temperature);
    if (this.s.alpha_task > 0) parts.task = sequenceClassificationLoss(zs, batch.labels, this.problem);
    if (this.s.alpha_cos > 0) {
      const H = this.teacher.hidden;
      const ht = tf.tensor2d(gather(this.teacher.cls!, idx, H), [idx.length, H]);
      const hs = tf.slice(out.lastHiddenState, [0, 0, 0], [idx.length, 1, H]).reshape([idx.length, H]) as tf.Tensor2D;
      parts.cos = cosineTerm(hs, ht);
    }
    const weights: Record<string, number> = { kd: this.s.alpha_kd, task: this.s.alpha_task, cos: this.s.alpha_cos };
    let total: tf.Tensor = tf.scalar(0);
    for (const [k, v] of Object.entries(parts)) {
      total = tf.add(total, tf.mul(v, weights[k]!));
      this.sums[k] = (this.sums[k] ?? 0) + v.dataSync()[0]! * idx.length;
    }
    this.rows += idx.length;
    return total as tf.Scalar;
  }

  /** Each component's mean over the rows since the last call (one optimizer step's). */
  takeComponents(): Record<string, number> {
    const out = Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, v / Math.max(1, this.rows)]));
    this.sums = {};
    this.rows = 0;
    return out;
  }
}

/** The soft-target term for the problem type (see the file comment). */
export function distillationTerm(zs: tf.Tensor2D, zt: tf.Tensor2D, problem: ProblemType, T: number): tf.Scalar {
  if (problem === 'regression') return tf.mean(tf.squaredDifference(zs, zt)) as tf.Scalar;
  if (problem === 'multi_label_classification') {
    // log σ(x) = −softplus(−x), log(1 − σ(x)) = −softplus(x): stable, and differentiable on every backend.
    const s = tf.div(zs, T);
    const t = tf.div(zt, T);
    const pt = tf.sigmoid(t);
    const ls = tf.neg(tf.softplus(tf.neg(s)));
    const lns = tf.neg(tf.softplus(s));
    const lt = tf.neg(tf.softplus(tf.neg(t)));
    const lnt = tf.neg(tf.softplus(t));
    const kl = tf.add(tf.mul(pt, tf.sub(lt, ls)), tf.mul(tf.sub(1, pt), tf.sub(lnt, lns)));
    return tf.mul(tf.mean(kl), T * T) as tf.Scalar;
  }
  const logPs = tf.logSoftmax(tf.div(zs, T));
  const logPt = tf.logSoftmax(tf.div(zt, T));
  const kl = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), 1); // [B]
  return tf.mul(tf.mean(kl), T * T) as tf.Scalar;
}

/** CosineEmbeddingLoss with target 1, mean over rows: 1 − cos(a, b), torch's form (1e-12 added to each squared norm). */
export function cosineTerm(a: tf.Tensor2D, b: tf.Tensor2D): tf.Scalar {
  const dot = tf.sum(tf.mul(a, b), 1);
  const na = tf.add(tf.sum(tf.square(a), 1), 1e-12);
  const nb = tf.add(tf.sum(tf.square(b), 1), 1e-12);
  const cos = tf.div(dot, tf.sqrt(tf.mul(na, nb)));
  return tf.mean(tf.sub(1, cos)) as tf.Scalar;
}

function gather(src: Float32Array, idx: number[], width: number): Float32Array {
  const out = new Float32Array(idx.length * width);
  idx.forEach((ex, r) => out.set(src.subarray(ex * width, (ex + 1) * width), r * width));
  return out;
}
