import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeBatches, padBatch, paddedTokens } from './batching';
import { mulberry32, range } from './rng';

/** 1,000 lengths between 3 and 60, fixed by a seed. */
const lengths = (() => {
  const r = mulberry32(5);
  return range(1000).map(() => 3 + Math.floor(r() * 58));
})();

const sortedFlat = (batches: number[][]) => batches.flat().sort((a, b) => a - b);

describe('makeBatches', () => {
  for (const bucketing of [false, true]) {
    describe(bucketing ? 'with bucketing' : 'plain shuffle', () => {
      const opts = { batchSize: 16, seed: 3, epoch: 0, bucketing };

      it('uses every index exactly once per epoch, in batches of batchSize but the last', () => {
        const batches = makeBatches(lengths, opts);
        assert.deepEqual(sortedFlat(batches), range(1000));
        assert.equal(batches.filter((b) => b.length !== 16).length, 1); // 1000 = 62·16 + 8
        assert.equal(batches.length, 63);
      });

      it('is the same for the same seed and epoch, different for another seed or epoch', () => {
        const a = makeBatches(lengths, opts);
        assert.deepEqual(makeBatches(lengths, opts), a);
        assert.notDeepEqual(makeBatches(lengths, { ...opts, seed: 4 }), a);
        assert.notDeepEqual(makeBatches(lengths, { ...opts, epoch: 1 }), a);
      });

      it('dropLast drops only the short batch', () => {
        const batches = makeBatches(lengths, { ...opts, dropLast: true });
        assert.equal(batches.length, 62);
        assert.ok(batches.every((b) => b.length === 16));
        assert.equal(new Set(batches.flat()).size, 992);
      });
    });
  }

  it('bucketing groups similar lengths, so padding shrinks, yet the batch order is not sorted', () => {
    const opts = { batchSize: 16, seed: 3, epoch: 0 };
    const plain = paddedTokens(lengths, makeBatches(lengths, { ...opts, bucketing: false }));
    const bucketed = makeBatches(lengths, { ...opts, bucketing: true });
    const real = lengths.reduce((a, b) => a + b, 0);
    assert.ok(paddedTokens(lengths, bucketed) < plain);
    // Within a window of 50 batches (800 examples, ~14 per length) the lengths are sorted, so a batch spans
    // one or two lengths; the last, 200-example window a few more. A plain shuffle's batches span ~50.
    const span = (b: number[]) => Math.max(...b.map((i) => lengths[i])) - Math.min(...b.map((i) => lengths[i]));
    const spans = bucketed.map(span).sort((a, b) => a - b);
    assert.ok(spans[Math.floor(spans.length / 2)] <= 2, `median span ${spans[Math.floor(spans.length / 2)]}`);
    assert.ok(spans[spans.length - 1] <= 8, `widest batch spans ${spans[spans.length - 1]} lengths`);
    assert.ok(paddedTokens(lengths, bucketed) < real * 1.1);
    // Batch order shuffled: unshuffled, the longest lengths would rise through each window and drop once
    // at the window boundary (1 descent); shuffled, about half of the 62 steps go down.
    const maxima = bucketed.map((b) => Math.max(...b.map((i) => lengths[i])));
    const descents = maxima.filter((m, k) => k > 0 && m < maxima[k - 1]).length;
    assert.ok(descents > 15, `${descents} descents`);
  });

  it('paddedTokens counts each batch as size × its longest member', () => {
    // batch [0, 1]: 2 × 5 = 10; batch [2]: 1 × 2 = 2
    assert.equal(paddedTokens([3, 5, 2], [[0, 1], [2]]), 12);
  });

  it('rejects a batch size that is not a positive integer', () => {
    assert.throws(() => makeBatches(lengths, { batchSize: 0, seed: 1, epoch: 0, bucketing: false }), { code: 'BAD_INPUT' });
  });
});

describe('padBatch', () => {
  const encodings = [
    { inputIds: [101, 7, 102], attentionMask: [1, 1, 1], tokenTypeIds: [0, 0, 0] },
    { inputIds: [101, 8, 9, 102, 10], attentionMask: [1, 1, 1, 1, 1], tokenTypeIds: [0, 0, 0, 1, 1] },
  ];

  it('pads on the right to the longest in the batch: pad id, attention 0, token type 0', () => {
    const b = padBatch(encodings, 0);
    assert.equal(b.seqLen, 5);
    assert.equal(b.batchSize, 2);
    assert.deepEqual([...b.inputIds], [101, 7, 102, 0, 0, 101, 8, 9, 102, 10]);
    assert.deepEqual([...b.attentionMask], [1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
    assert.deepEqual([...b.tokenTypeIds], [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('rounds the length up to padToMultipleOf', () => {
    const b = padBatch(encodings, 3, 8);
    assert.equal(b.seqLen, 8);
    assert.deepEqual([...b.inputIds.subarray(0, 8)], [101, 7, 102, 3, 3, 3, 3, 3]);
    assert.equal(padBatch(encodings, 0, 5).seqLen, 5);
  });

  it('rejects an empty batch and encodings whose parts differ in length', () => {
    assert.throws(() => padBatch([], 0), { code: 'BAD_INPUT' });
    assert.throws(() => padBatch([{ inputIds: [1, 2], attentionMask: [1], tokenTypeIds: [0, 0] }], 0), { code: 'BAD_INPUT' });
  });
});
