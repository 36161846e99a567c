/**
 * One optimizer step's gradient computation, shared by the trainer and the optimizer-parity test: the
 * mean loss over a group of batches (gradient accumulation) and the gradients of the trainable variables
 * only — frozen tensors are constants to autodiff, so no weight gradient is ever formed.
 *
 * Each batch may itself run as several micro-batches (micro-batch.ts) when one pass over all of it would
 * not fit the backend's memory. Each part's loss is weighted by its share of the batch's examples, so the
 * summed gradients equal the unsplit batch's: HF's loss is a mean over examples, and every example of a
 * batch weighs the same in it whatever part it runs in.
 */
import { GELU } from '../backend/native/gelu';
import { tf, tidy } from '../backend/tf';
import { deriveSeed } from '../data/rng';
import type { ProblemType } from '../model/config';
import { sequenceClassificationLoss, type EncoderModel } from '../model/model';
import type { TensorBatch } from './batches';
import { autoMicroBatchSize, residentBytes, sliceBatch, splitRows } from './micro-batch';

export interface GradientResult {
  /** Mean of the batch losses (each batch's loss is its own mean, as HF logs it). */
  loss: number;
  grads: Map<string, tf.Tensor>;
  /** Non-padding tokens processed. */
  tokens: number;
  /** Examples per forward/backward pass used for this step (the largest part). */
  microBatchSize: number;
}

export interface GradientOptions {
  /** Dropout on. */
  training: boolean;
  /** The step's seed; batch m of the group draws its dropout masks from (seed, m). */
  seed: number;
  /** Examples per forward/backward pass: a number, or 'auto' (default) for what fits the backend. */
  microBatchSize?: number | 'auto';
}

/**
 * What a step minimises for one batch (or part of one): a scalar, the mean over the part's examples. The
 * default is HF's task loss on the labels; distillation brings its own (teacher outputs and a mix of terms).
 */
export interface Objective {
  loss(model: EncoderModel, batch: TensorBatch, opts: { training: boolean; dropoutSeed: number }): tf.Scalar;
}

/** HF `*ForSequenceClassification`'s loss for the problem type. */
export function taskObjective(problem: ProblemType): Objective {
  return {
    loss: (model, batch, opts) => sequenceClassificationLoss(model.forward(batch.inputs, opts).logits!, batch.labels, problem),
  };
}

export async function computeGradients(
  model: EncoderModel,
  group: TensorBatch[],
  problemOrObjective: ProblemType | Objective,
  vars: Map<string, tf.Variable>,
  opts: GradientOptions,
): Promise<GradientResult> {
  const objective = typeof problemOrObjective === 'string' ? taskObjective(problemOrObjective) : problemOrObjective;
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n)!);
  let acc: tf.Tensor[] | undefined;
  let lossSum = 0;
  let tokens = 0;
  let largest = 0;
  for (let m = 0; m < group.length; m++) {
    const batch = group[m]!;
    tokens += batch.tokens;
    const micro = microBatchSize(model, list, batch.size, batch.inputs.inputIds.shape[1], opts.microBatchSize ?? 'auto');
    const ranges = splitRows(batch.size, micro);
    // Unsplit batches run as before, mask and all: same dropout seed, so a run's losses do not change.
    const mask = ranges.length > 1 ? await batch.inputs.attentionMask.data() : undefined;
    for (let part = 0; part < ranges.length; part++) {
      const [start, end] = ranges[part]!;
      largest = Math.max(largest, end - start);
      const piece = mask ? sliceBatch(batch, mask as Int32Array, start, end) : batch;
      const seed = mask ? deriveSeed(opts.seed, m, part + 1) : deriveSeed(opts.seed, m);
      // HF divides each batch's loss by the number of accumulation steps before backward; a part's share
      // of its batch's examples makes the parts' losses sum to that batch's mean.
      const weight = (end - start) / batch.size / group.length;
      const { value, grads } = tidy(() =>
        tf.variableGrads(() => tf.mul(objective.loss(model, piece, { training: opts.training, dropoutSeed: seed }), weight) as tf.Scalar, list),
      );
      if (piece !== batch) tf.dispose([piece.inputs.inputIds, piece.inputs.attentionMask, piece.inputs.tokenTypeIds!, piece.labels]);
      lossSum += (await value.data())[0]!;
      value.dispose();
      const g = list.map((v) => grads[v.name]!);
      if (!acc) acc = g;
      else {
        // One tensor at a time: summing the whole set at once would hold a third model-sized set of
        // gradients at the peak under full fine-tuning.
        for (let i = 0; i < acc.length; i++) {
          const summed = tf.add(acc[i]!, g[i]!);
          tf.dispose([acc[i]!, g[i]!]);
          acc[i] = summed;
        }
      }
    }
  }
  return { loss: lossSum, grads: new Map(names.map((n, i) => [n, acc![i]!])), tokens, microBatchSize: largest };
}

/**
 * Examples per pass for a batch of `batchSize` examples padded to `seqLen` tokens: the setting, or under
 * 'auto' the largest part that fits the active backend (micro-batch.ts).
 */
export function microBatchSize(model: EncoderModel, trainable: Map<string, tf.Variable> | tf.Variable[], batchSize: number, seqLen: number, setting: number | 'auto'): number {
  if (setting !== 'auto') return Math.min(setting, batchSize);
  const vars = [...trainable.values()];
  const h = model.config.hiddenSize;
  return autoMicroBatchSize(model.config, batchSize, seqLen, {
    backend: tf.getBackend(),
    residentBytes: residentBytes(model.params.entries(), vars),
    // A classifier head is [labels, H]; an encoder dense weight has both sides at least H.
    trainsWeights: vars.some((v) => v.rank === 2 && v.shape[0]! >= h && v.shape[1]! >= h),
    // The native GELU is registered exactly while the native kernels are installed, and the model's layers
    // use it by the same test, so this is what the pass will run on.
    nativeKernels: tf.getKernel(GELU, tf.getBackend()) !== undefined,
  });
}
