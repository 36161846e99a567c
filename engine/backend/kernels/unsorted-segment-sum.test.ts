/**
 * The wasm UnsortedSegmentSum against the cpu backend's kernel, directly and as the gradient of gather
 * (what an embedding table's training needs), including ids that repeat, ids out of range and a segment
 * no id names.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../select';
import { tf } from '../tf';
import { installWasmKernels } from './unsorted-segment-sum';

/** Runs `f` on a backend and returns its result's values (computed from the same JS inputs each time). */
async function on(backend: 'cpu' | 'wasm', f: () => tf.Tensor): Promise<{ shape: number[]; values: Float32Array | Int32Array }> {
  await initBackend({ backend, reinit: true });
  const t = tf.tidy(f);
  const values = (await t.data()) as Float32Array | Int32Array;
  const shape = t.shape;
  t.dispose();
  return { shape, values };
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `element ${i}: ${a[i]} vs ${b[i]}`);
}

describe('UnsortedSegmentSum on wasm', () => {
  it('is registered once, and a second install changes nothing', () => {
    installWasmKernels();
    const first = tf.getKernel('UnsortedSegmentSum', 'wasm');
    assert.ok(first);
    installWasmKernels();
    assert.equal(tf.getKernel('UnsortedSegmentSum', 'wasm'), first);
  });

  it('matches cpu on float rows with repeated, out-of-range and missing ids', async () => {
    installWasmKernels();
    const rows = 50;
    const x = Float32Array.from({ length: rows * 3 * 4 }, (_, i) => Math.sin(i * 0.37) * 10);
    // Segment 6 is named by no id (its row must be zero); -1 and 9 are outside [0, 9) and add nothing.
    const ids = Int32Array.from({ length: rows }, (_, i) => [0, 3, 3, 8, -1, 2, 9, 1, 5, 7, 4][i % 11]!);
    const f = () => tf.unsortedSegmentSum(tf.tensor3d(x, [rows, 3, 4]), tf.tensor1d(ids, 'int32'), 9);
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    assert.deepEqual(wasm.shape, [9, 3, 4]);
    assertClose(wasm.values, cpu.values, 1e-6);
    assert.ok(wasm.values.slice(6 * 12, 7 * 12).every((v) => v === 0), 'a segment no id names is zero');
  });

  it('sums int32 exactly', async () => {
    installWasmKernels();
    const f = () => tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], 'int32'), tf.tensor1d([1, 0, 1, 1], 'int32'), 3);
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    assert.deepEqual(Array.from(wasm.values), Array.from(cpu.values));
    assert.deepEqual(Array.from(wasm.values), [3, 4, 13, 16, 0, 0]);
  });

  it('gives the gradient of gather (an embedding lookup) as cpu does', async () => {
    installWasmKernels();
    const table = Float32Array.from({ length: 40 * 8 }, (_, i) => Math.cos(i * 0.11));
    const ids = [3, 17, 3, 0, 39, 17, 17, 5, 22, 3, 11, 0];
    const upstream = Float32Array.from({ length: ids.length * 8 }, (_, i) => Math.sin(i * 0.7));
    const f = () => {
      const w = tf.tensor2d(table, [40, 8]);
      const dy = tf.tensor3d(upstream, [3, 4, 8]);
      return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor2d(ids, [3, 4], 'int32')), dy)))(w);
    };
    const cpu = await on('cpu', f);
    const wasm = await on('wasm', f);
    assert.deepEqual(wasm.shape, [40, 8]);
    assertClose(wasm.values, cpu.values, 1e-6);
    // Row 17 is looked up three times: its gradient is the sum of the three upstream rows.
    const want = [1, 5, 6].map((pos) => upstream.slice(pos * 8, pos * 8 + 8)).reduce((a, r) => a.map((v, j) => v + r[j]!));
    assertClose(wasm.values.slice(17 * 8, 18 * 8), want, 1e-6);
  });
});
