/**
 * The in-heap Slice on the wasm backend (installed with the native kernels): bit-identical to the cpu
 * backend over ranks 1-5, begins, sizes (-1 included), empty slices and dtypes; out-of-range slices throw
 * as stock does; gradients through it are unchanged. SplitV (made of the same slices) likewise, and the
 * gradient of a Concat (a SplitV) with it; Concat (the same runs copied the other way) likewise. Without the addon these tests skip locally and fail
 * under CI.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { loadAddon } from './addon';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { rng, requireAddon } from './test-support';

const skip = requireAddon(loadAddon());

interface SliceCase {
  shape: number[];
  begin: number[];
  size: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** Random slices of random shapes, each axis cut or taken whole, with a fixed seed. */
function randomCases(count: number): SliceCase[] {
  const r = rng(7);
  const pick = (n: number) => Math.floor(((r() + 1) / 2) * n);
  const dtypes = ['float32', 'int32', 'bool'] as const;
  return Array.from({ length: count }, (_, i) => {
    const rank = 1 + (i % 5);
    const shape = Array.from({ length: rank }, () => 1 + pick(6));
    const begin = shape.map((d) => pick(d));
    const size = shape.map((d, a) => (pick(4) === 0 ? -1 : pick(d - begin[a]! + 1)));
    return { shape, begin, size, dtype: dtypes[i % 3]! };
  });
}

const CASES: SliceCase[] = [
  { shape: [32, 128, 16], begin: [0, 0, 0], size: [32, 1, 16], dtype: 'float32' }, // BERT's [CLS] rows
  { shape: [4, 6], begin: [1, 0], size: [2, 6], dtype: 'float32' }, // whole rows: one run
  { shape: [4, 6], begin: [0, 2], size: [4, 3], dtype: 'int32' }, // columns: one run per row
  { shape: [3, 4, 5], begin: [1, 1, 1], size: [0, 2, 2], dtype: 'float32' }, // empty
  ...randomCases(60),
];

async function sliced(c: SliceCase, values: number[]) {
  const x = tf.tensor(values, c.shape, c.dtype);
  const y = tf.slice(x, c.begin, c.size);
  const out = { shape: y.shape, data: Array.from(await y.data()) };
  tf.dispose([x, y]);
  return out;
}

describe('in-heap Slice on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
    assert.equal(installNativeKernels().active, true);
  });
  after(() => uninstallNativeKernels());

  it('equals the cpu backend over ranks, begins, sizes and dtypes', async () => {
    for (const [i, c] of CASES.entries()) {
      const values = Array.from({ length: tf.util.sizeFromShape(c.shape) }, (_, j) => (c.dtype === 'float32' ? Math.sin(i + j * 0.7) * 50 : (i + j * 3) % 7));
      await tf.setBackend('cpu');
      const expected = await sliced(c, values);
      await tf.setBackend('wasm');
      const got = await sliced(c, values);
      assert.deepEqual(got, expected, `case ${i}: ${JSON.stringify(c)}`);
    }
  });

  it('throws for a slice past the end, as stock does', () => {
    const x = tf.zeros([3, 4]);
    assert.throws(() => tf.slice(x, [1, 2], [3, 1]), /end|requires|size/i);
    x.dispose();
  });

  it('the gradient of a slice is unchanged (zeros outside it)', async () => {
    const x = tf.tensor3d(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.slice(t, [0, 1, 1], [2, 1, 2]), 3)))(x);
    const expected = Array.from({ length: 24 }, (_, i) => (Math.floor(i / 4) % 3 === 1 && i % 4 >= 1 && i % 4 <= 2 ? 3 : 0));
    assert.deepEqual(Array.from(await g.data()), expected);
    tf.dispose([x, g]);
  });

  it('SplitV equals the cpu backend over axes, split sizes and dtypes', async () => {
    const cases: Array<{ shape: number[]; splits: number | number[]; axis: number; dtype: 'float32' | 'int32' | 'bool' }> = [
      { shape: [4, 5, 6], splits: 3, axis: 2, dtype: 'float32' }, // q | k | v thirds of a stacked projection
      { shape: [4, 5, 6], splits: [1, -1, 2], axis: 1, dtype: 'float32' },
      { shape: [6, 4], splits: [2, 0, 4], axis: 0, dtype: 'int32' },
      { shape: [3, 4], splits: 2, axis: -1, dtype: 'bool' },
      { shape: [2, 3, 2, 4], splits: [3, 1], axis: 3, dtype: 'float32' },
    ];
    for (const [i, c] of cases.entries()) {
      const values = Array.from({ length: tf.util.sizeFromShape(c.shape) }, (_, j) => (c.dtype === 'float32' ? Math.cos(i + j * 0.3) * 9 : (i + j) % 5));
      const run = async () => {
        const x = tf.tensor(values, c.shape, c.dtype);
        const parts = tf.split(x, c.splits, c.axis);
        const out = await Promise.all(parts.map(async (p) => ({ shape: p.shape, data: Array.from(await p.data()) })));
        tf.dispose([x, ...parts]);
        return out;
      };
      await tf.setBackend('cpu');
      const expected = await run();
      await tf.setBackend('wasm');
      assert.deepEqual(await run(), expected, `case ${i}: ${JSON.stringify(c)}`);
    }
  });

  it('the gradient of a concat (a SplitV) is each part of dy', async () => {
    const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const b = tf.tensor2d([5, 6], [2, 1]);
    const w = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.concat([x, y], 1), w)))([a, b]);
    assert.deepEqual(Array.from(await ga!.data()), [1, 2, 4, 5]);
    assert.deepEqual(Array.from(await gb!.data()), [3, 6]);
    tf.dispose([a, b, w, ga!, gb!]);
  });

  it('Concat equals the cpu backend over axes, part counts, empty parts and dtypes', async () => {
    const cases: Array<{ shapes: number[][]; axis: number; dtype: 'float32' | 'int32' | 'bool' }> = [
      { shapes: [[4, 5, 6], [4, 5, 6], [4, 5, 6]], axis: 2, dtype: 'float32' }, // q | k | v deltas
      { shapes: [[4, 2, 3], [4, 5, 3]], axis: 1, dtype: 'float32' }, // virtual tokens in front of the words
      { shapes: [[3], [4], [5]], axis: 0, dtype: 'float32' }, // stacked biases
      { shapes: [[2, 3], [2, 0], [2, 1]], axis: 1, dtype: 'int32' },
      { shapes: [[2, 2], [3, 2]], axis: 0, dtype: 'bool' },
      { shapes: [[2, 3, 1, 2], [2, 3, 4, 2]], axis: -2, dtype: 'float32' },
    ];
    for (const [i, c] of cases.entries()) {
      const run = async () => {
        const xs = c.shapes.map((shape, k) => tf.tensor(Array.from({ length: tf.util.sizeFromShape(shape) }, (_, j) => (c.dtype === 'float32' ? Math.sin(k * 31 + j) * 7 : (k + j) % 3)), shape, c.dtype));
        const y = tf.concat(xs, c.axis);
        const out = { shape: y.shape, data: Array.from(await y.data()) };
        tf.dispose([...xs, y]);
        return out;
      };
      await tf.setBackend('cpu');
      const expected = await run();
      await tf.setBackend('wasm');
      assert.deepEqual(await run(), expected, `case ${i}: ${JSON.stringify(c)}`);
    }
  });
});
