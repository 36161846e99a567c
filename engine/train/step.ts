/**
 * One optimizer step's gradient computation, shared by the trainer and the optimizer-parity test: the
 * mean loss over a group of micro-batches (gradient accumulation) and the gradients of the trainable
 * variables only — frozen tensors are constants to autodiff, so no weight gradient is ever formed.
 */
import { tf, tidy } from '../backend/tf';
import { deriveSeed } from '../data/rng';
import type { ProblemType } from '../model/config';
import { sequenceClassificationLoss, type EncoderModel } from '../model/model';
import type { TensorBatch } from './batches';

export interface GradientResult {
  /** Mean of the micro-batch losses (each micro-batch's loss is its own mean, as HF logs it). */
  loss: number;
  grads: Map<string, tf.Tensor>;
  /** Non-padding tokens processed. */
  tokens: number;
}

export async function computeGradients(
  model: EncoderModel,
  group: TensorBatch[],
  problem: ProblemType,
  vars: Map<string, tf.Variable>,
  opts: { training: boolean; seed: number },
): Promise<GradientResult> {
  const names = [...vars.keys()];
  const list = names.map((n) => vars.get(n)!);
  let acc: tf.Tensor[] | undefined;
  let lossSum = 0;
  let tokens = 0;
  for (let m = 0; m < group.length; m++) {
    const batch = group[m]!;
    tokens += batch.tokens;
    const { value, grads } = tidy(() =>
      tf.variableGrads(() => {
        const logits = model.forward(batch.inputs, { training: opts.training, dropoutSeed: deriveSeed(opts.seed, m) }).logits!;
        // HF divides each micro-batch loss by the number of accumulation steps before backward.
        return tf.div(sequenceClassificationLoss(logits, batch.labels, problem), group.length) as tf.Scalar;
      }, list),
    );
    lossSum += (await value.data())[0]!;
    value.dispose();
    const g = list.map((v) => grads[v.name]!);
    if (!acc) acc = g;
    else {
      const summed = acc.map((a, i) => tf.add(a, g[i]!));
      tf.dispose([...acc, ...g]);
      acc = summed;
    }
  }
  return { loss: lossSum, grads: new Map(names.map((n, i) => [n, acc![i]!])), tokens };
}
