/**
 * Which examples go together in a batch, and how a batch is padded. Pure functions with no TF.js, so the
 * trainer's order of examples can be tested and reproduced without a model.
 */
import { PeftStudioError } from '../errors';
import { deriveSeed, mulberry32, range, shuffleInPlace } from './rng';

export interface BatchOptions {
  batchSize: number;
  /** The run's seed; each epoch draws its own order from (seed, epoch). */
  seed: number;
  epoch: number;
  /**
   * false: a plain seeded shuffle cut into batches, as HF's Trainer does.
   * true: length bucketing. Padding to the longest example in a batch makes every short sentence pay for
   * the long one beside it; grouping similar lengths cuts that waste, while the shuffled windows and the
   * shuffled batch order keep training order random.
   */
  bucketing: boolean;
  /** Drop a last batch smaller than batchSize. Default false: every example is seen once per epoch. */
  dropLast?: boolean;
  /** Bucketing window, in batches: lengths are sorted within windows of this many batches. Default 50. */
  windowBatches?: number;
}

/** Salt so epoch orders differ from the held-out split drawn with the same user seed. */
const EPOCH_STREAM = 0xba7c4;

/** Example indices per batch for one epoch. `lengths[i]` is example i's token count (bucketing only). */
export function makeBatches(lengths: readonly number[], opts: BatchOptions): number[][] {
  const { batchSize, bucketing, dropLast = false, windowBatches = 50 } = opts;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new PeftStudioError('BAD_INPUT', `batchSize must be a positive integer, got ${batchSize}`);
  const rng = mulberry32(deriveSeed(opts.seed, EPOCH_STREAM, opts.epoch));
  const order = shuffleInPlace(range(lengths.length), rng);
  let batches: number[][] = [];
  if (!bucketing) {
    for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  } else {
    const window = windowBatches * batchSize;
    for (let w = 0; w < order.length; w += window) {
      // Array.prototype.sort is stable, so equal lengths keep their shuffled order.
      const sorted = order.slice(w, w + window).sort((a, b) => lengths[a] - lengths[b]);
      for (let i = 0; i < sorted.length; i += batchSize) batches.push(sorted.slice(i, i + batchSize));
    }
    shuffleInPlace(batches, rng); // else every window would run from short to long
  }
  if (dropLast) batches = batches.filter((b) => b.length === batchSize);
  return batches;
}

/** Tokens a set of batches costs once each is padded to its longest member: what bucketing reduces. */
export function paddedTokens(lengths: readonly number[], batches: readonly number[][]): number {
  let total = 0;
  for (const b of batches) total += b.length * Math.max(...b.map((i) => lengths[i]));
  return total;
}

export interface Encoding {
  inputIds: number[];
  attentionMask: number[];
  tokenTypeIds: number[];
}

/** Row-major [batchSize, seqLen] int32 buffers, ready for tf.tensor2d(data, [batchSize, seqLen], 'int32'). */
export interface PaddedBatch {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  tokenTypeIds: Int32Array;
  batchSize: number;
  seqLen: number;
}

/**
 * Dynamic padding: pads on the right (BERT's side) to the longest encoding in the batch, rounded up to
 * `padToMultipleOf` when given (fewer distinct shapes, fewer kernel recompilations on GPU backends).
 * Padding has id `padId`, attention 0 and token type 0. Truncation is the tokenizer's job, not this one's.
 */
export function padBatch(encodings: readonly Encoding[], padId: number, padToMultipleOf?: number): PaddedBatch {
  if (encodings.length === 0) throw new PeftStudioError('BAD_INPUT', 'cannot pad an empty batch');
  if (padToMultipleOf !== undefined && !(Number.isInteger(padToMultipleOf) && padToMultipleOf >= 1))
    throw new PeftStudioError('BAD_INPUT', `padToMultipleOf must be a positive integer, got ${padToMultipleOf}`);
  let seqLen = 0;
  encodings.forEach((e, i) => {
    const n = e.inputIds.length;
    if (e.attentionMask.length !== n || e.tokenTypeIds.length !== n)
      throw new PeftStudioError('BAD_INPUT', `encoding ${i}: inputIds, attentionMask and tokenTypeIds differ in length`);
    seqLen = Math.max(seqLen, n);
  });
  if (padToMultipleOf) seqLen = Math.ceil(seqLen / padToMultipleOf) * padToMultipleOf;
  const batchSize = encodings.length;
  const inputIds = new Int32Array(batchSize * seqLen).fill(padId);
  const attentionMask = new Int32Array(batchSize * seqLen); // zeros: padding is not attended to
  const tokenTypeIds = new Int32Array(batchSize * seqLen);
  encodings.forEach((e, row) => {
    inputIds.set(e.inputIds, row * seqLen);
    attentionMask.set(e.attentionMask, row * seqLen);
    tokenTypeIds.set(e.tokenTypeIds, row * seqLen);
  });
  return { inputIds, attentionMask, tokenTypeIds, batchSize, seqLen };
}
