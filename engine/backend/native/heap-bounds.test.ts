/**
 * The addon's elementwise, LayerNorm, dropout, attention-softmax, self-attention and row-gather entry points refuse operands that would reach outside the heap
 * (a RangeError, nothing written) and arguments of the wrong kind (a TypeError), as gemm does: a wrong
 * shape from JavaScript must throw, never touch memory it does not own.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadAddon } from './addon';
import { requireAddon } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);

describe('native entry points check every operand against the heap', { skip }, () => {
  const addon = load.addon!;
  const heap = new ArrayBuffer(64 * 4);
  const view = new Float32Array(heap);

  it('in bounds: computes; one float past the end or a misaligned offset: RangeError, heap untouched', () => {
    view.fill(0.5);
    addon.gelu(heap, 0, 32 * 4, 32);
    assert.ok(view[32]! > 0.34 && view[32]! < 0.35, `gelu(0.5) = ${view[32]}`);
    // The self-attention entries in bounds (B 1, T 2, 1 head of 2; the same operands as below): each
    // probabilities row sums to 1.
    addon.attention(heap, 0, 12 * 4, 20 * 4, 30 * 4, 1, 0, 1, 2, 1, 2, 1, 0, 2);
    addon.attentionGrad(heap, 0, 20 * 4, 30 * 4, 40 * 4, 0, 1, 2, 1, 2, 1, 0, 2);
    assert.ok(Math.abs(view[20]! + view[21]! - 1) < 1e-6 && Math.abs(view[22]! + view[23]! - 1) < 1e-6, 'probabilities');
    // Row gather: rows 3 and 1 of a [4, 4] x, ids as int32 at float 16.
    const ints = new Int32Array(heap);
    for (let i = 0; i < 16; i++) view[i] = i;
    ints[16] = 3;
    ints[17] = 1;
    addon.gatherRows(heap, 0, 16 * 4, 20 * 4, 1, 4, 2, 16);
    assert.deepEqual(Array.from(view.slice(20, 28)), [12, 13, 14, 15, 4, 5, 6, 7]);
    const before = view.slice();
    assert.throws(() => addon.gelu(heap, 0, 33 * 4, 32), RangeError);
    assert.throws(() => addon.gelu(heap, 2, 32 * 4, 8), RangeError);
    assert.throws(() => addon.geluGrad(heap, 0, 16 * 4, 40 * 4, 32), RangeError);
    assert.throws(() => addon.sum(heap, 0, 60 * 4, 8, 8, true), RangeError);
    // rows × cols floats of x and y, cols of gamma and beta: y would end one float past the heap.
    assert.throws(() => addon.layerNorm(heap, 0, 0, 0, 49 * 4, 4, 4, 1e-12), RangeError);
    assert.throws(() => addon.layerNormGrad(heap, 0, 0, 0, 0, 0, 61 * 4, 4, 4, 1e-12), RangeError);
    assert.throws(() => addon.dropout(heap, 0, 33 * 4, 32, 1, 1000), RangeError);
    // 4 rows × 8 cols of scores and probs, the mask [2, 8] (rowsPerMask 2): probs would end one float past.
    assert.throws(() => addon.attentionSoftmax(heap, 0, 0, 33 * 4, 4, 8, 2, 8), RangeError);
    assert.throws(() => addon.attentionSoftmax(heap, 0, 49 * 4, 32 * 4, 4, 8, 2, 8), RangeError);
    assert.throws(() => addon.attentionSoftmax(heap, 0, 0, 32 * 4, 4, 8, 3, 8), RangeError, 'rowsPerMask must divide rows');
    assert.throws(() => addon.attentionSoftmax(heap, 0, 0, 32 * 4, 4, 8, 0, 0), RangeError, 'divisor 0');
    assert.throws(() => addon.attentionSoftmaxGrad(heap, 0, 0, 33 * 4, 4, 8, 8), RangeError);
    // Self-attention, B 1, T 2, 1 head of 2: qkv 12 floats, mask 2, probs 4, context 4; each in turn one float past.
    assert.throws(() => addon.attention(heap, 53 * 4, 0, 20 * 4, 30 * 4, 1, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.attention(heap, 0, 63 * 4, 20 * 4, 30 * 4, 1, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.attention(heap, 0, 12 * 4, 61 * 4, 30 * 4, 1, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.attention(heap, 0, 12 * 4, 20 * 4, 61 * 4, 1, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.attention(heap, 0, 12 * 4, 20 * 4, 30 * 4, 1, 0, 1, 2, 1, 2, 1, 0, 0), RangeError, 'divisor 0');
    assert.throws(() => addon.attention(heap, 0, 12 * 4, 20 * 4, 30 * 4, 1, 0, 1, 2, 1, 2, 1, 2 ** 24, 2), RangeError, 'drop all');
    assert.throws(() => addon.attention(heap, 0, 12 * 4, 20 * 4, 30 * 4, 1, 2, 1, 2, 1, 2, 1, 0, 2), RangeError, 'a flag is 0 or 1');
    assert.throws(() => addon.attentionGrad(heap, 0, 20 * 4, 30 * 4, 53 * 4, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.attentionGrad(heap, 0, 61 * 4, 30 * 4, 40 * 4, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.attentionGrad(heap, 0, 20 * 4, 61 * 4, 40 * 4, 0, 1, 2, 1, 2, 1, 0, 2), RangeError);
    assert.throws(() => addon.gatherRows(heap, 0, 16 * 4, 57 * 4, 1, 4, 2, 16), RangeError, 'out one float past the end');
    assert.throws(() => addon.gatherRows(heap, 0, 63 * 4, 20 * 4, 1, 4, 2, 16), RangeError, 'ids past the end');
    assert.throws(() => addon.gatherRows(heap, 200, 16 * 4, 20 * 4, 1, 4, 2, 16), RangeError, 'x past the end');
    ints[17] = 4;
    assert.throws(() => addon.gatherRows(heap, 0, 16 * 4, 20 * 4, 1, 4, 2, 16), RangeError, 'an id past dim');
    ints[17] = -1;
    assert.throws(() => addon.gatherRows(heap, 0, 16 * 4, 20 * 4, 1, 4, 2, 16), RangeError, 'a negative id');
    ints[17] = 1;
    // A seed past 32 bits, or a drop probability of 1 (2^24 / 2^24), is refused too.
    assert.throws(() => addon.dropout(heap, 0, 32 * 4, 32, 2 ** 32, 1000), RangeError);
    assert.throws(() => addon.dropout(heap, 0, 32 * 4, 32, 1, 2 ** 24), RangeError);
    assert.deepEqual(view, before);
  });

  it('arguments of the wrong kind: TypeError', () => {
    assert.throws(() => addon.gelu(new Float32Array(4) as unknown as ArrayBuffer, 0, 0, 4), TypeError);
    assert.throws(() => addon.gelu(heap, -4, 0, 4), TypeError);
    assert.throws(() => addon.gelu(heap, 0, 0, 1.5), TypeError);
    assert.throws(() => addon.dropout(heap, 0, 0, 4, -1, 1000), TypeError);
    assert.throws(() => addon.attentionSoftmax(heap, 0, 0, 0, 1, 4, 0, Number.POSITIVE_INFINITY), TypeError);
    assert.throws(() => addon.layerNorm(heap, 0, 0, 0, 0, 1, 4, Number.NaN), TypeError);
    assert.throws(() => (addon.layerNorm as unknown as (...a: unknown[]) => void)(heap, 0, 0, 0, 0, 1, 4), TypeError);
  });
});
