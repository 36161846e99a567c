/**
 * From dataset examples to model inputs: tokenize once up front (no padding), then pad each batch to its
 * own longest example. Labels become the tensor the loss for the model's problem type expects.
 */
import { tf } from '../backend/tf';
import type { Example, Label } from '../data/types';
import { padBatch, type Encoding } from '../data/batching';
import type { EncoderInputs } from '../model/bert';
import type { ProblemType } from '../model/config';
import type { Tokenizer } from '../tokenizer/types';

export interface EncodedSet {
  encodings: Encoding[];
  labels: Label[];
  /** Token count per example (for length bucketing and tokens/s). */
  lengths: number[];
  /** Examples cut to max_length. */
  truncated: number;
}

export function encodeExamples(tokenizer: Tokenizer, examples: Example[], maxLength: number): EncodedSet {
  const encodings: Encoding[] = [];
  let truncated = 0;
  for (const ex of examples) {
    const e = tokenizer.encode(ex.text, ex.textPair, { maxLength, truncation: true });
    if (e.truncated) truncated += 1;
    encodings.push({ inputIds: e.inputIds, attentionMask: e.attentionMask, tokenTypeIds: e.tokenTypeIds });
  }
  return { encodings, labels: examples.map((e) => e.label), lengths: encodings.map((e) => e.inputIds.length), truncated };
}

export interface TensorBatch {
  inputs: EncoderInputs;
  labels: tf.Tensor;
  /** Non-padding tokens in the batch. */
  tokens: number;
  size: number;
  /** Each row's example index in its EncodedSet (for per-example data kept beside it: teacher outputs). */
  indices?: number[];
}

export function makeTensorBatch(set: EncodedSet, indices: number[], padId: number, problem: ProblemType): TensorBatch {
  const p = padBatch(indices.map((i) => set.encodings[i]!), padId);
  const shape: [number, number] = [p.batchSize, p.seqLen];
  // Unlabelled rows (distillation on raw text) get 0: their task loss has weight 0.
  const labels = indices.map((i) => set.labels[i] ?? (problem === 'multi_label_classification' ? new Array<number>(0) : 0));
  const labelTensor =
    problem === 'single_label_classification'
      ? tf.tensor1d(labels as number[], 'int32')
      : problem === 'multi_label_classification'
        ? tf.tensor2d(labels as number[][], undefined, 'float32')
        : tf.tensor1d(labels as number[], 'float32');
  let tokens = 0;
  for (const i of indices) tokens += set.lengths[i]!;
  return {
    inputs: {
      inputIds: tf.tensor2d(p.inputIds, shape, 'int32'),
      attentionMask: tf.tensor2d(p.attentionMask, shape, 'int32'),
      tokenTypeIds: tf.tensor2d(p.tokenTypeIds, shape, 'int32'),
    },
    labels: labelTensor,
    tokens,
    size: indices.length,
    indices,
  };
}

export function disposeBatch(b: TensorBatch): void {
  tf.dispose([b.inputs.inputIds, b.inputs.attentionMask, b.inputs.tokenTypeIds!, b.labels]);
}
