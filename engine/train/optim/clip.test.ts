import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import { clipGradNorm } from './clip';

async function values(m: Map<string, tf.Tensor>): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of m) out[k] = Array.from(await t.data());
  return out;
}

const disposeAll = (m: Map<string, tf.Tensor>) => m.forEach((t) => t.dispose());

function grads3412(): Map<string, tf.Tensor> {
  // Global norm: sqrt(||[3,4]||^2 + ||[12]||^2) = sqrt(25 + 144) = 13, split across tensors of two shapes.
  return new Map<string, tf.Tensor>([
    ['a', tf.tensor2d([[3], [4]])],
    ['b', tf.tensor1d([12])],
  ]);
}

test('clip: global norm of 3-4-12 is 13 and grads are scaled by max_norm / (13 + 1e-6)', async () => {
  const g = grads3412();
  const before = tf.memory().numTensors;
  const { totalNorm, grads } = await clipGradNorm(g, 6.5);
  assert.equal(totalNorm, 13);
  const coef = 6.5 / (13 + 1e-6); // just under 0.5: torch's 1e-6 guard
  const got = await values(grads);
  const want = { a: [3 * coef, 4 * coef], b: [12 * coef] };
  for (const k of ['a', 'b'] as const) {
    got[k].forEach((x, i) => assert.ok(Math.abs(x - want[k][i]) <= 1e-6 * Math.abs(want[k][i]), `${k}[${i}] = ${x}`));
  }
  assert.ok(got.a[0] < 1.5, 'the 1e-6 guard makes the coefficient slightly below 0.5');
  assert.deepEqual(grads.get('a')!.shape, [2, 1]);
  // Inputs untouched and still alive; outputs are the only new tensors.
  assert.deepEqual(await values(g), { a: [3, 4], b: [12] });
  assert.equal(tf.memory().numTensors, before + 2);
  disposeAll(grads);
  assert.equal(tf.memory().numTensors, before);
  disposeAll(g);
});

test('clip: under max norm the grads are unchanged (coefficient clamped to 1)', async () => {
  const g = grads3412();
  const { totalNorm, grads } = await clipGradNorm(g, 13.5);
  assert.equal(totalNorm, 13);
  assert.deepEqual(await values(grads), { a: [3, 4], b: [12] });
  disposeAll(grads);
  disposeAll(g);
});

test('clip: max norm 0 or undefined means no clipping, but the norm is still measured', async () => {
  for (const maxNorm of [0, undefined]) {
    const g = grads3412();
    const { totalNorm, grads } = await clipGradNorm(g, maxNorm);
    assert.equal(totalNorm, 13);
    assert.deepEqual(await values(grads), { a: [3, 4], b: [12] });
    assert.notEqual(grads.get('a'), g.get('a'), 'returned grads are new tensors the caller owns');
    disposeAll(grads);
    assert.equal(g.get('a')!.isDisposed, false);
    disposeAll(g);
  }
});

test('clip: norm of random multi-dimensional grads matches a float64 reference; result has norm max_norm', async () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const shapes = [[4, 8], [16], [2, 3, 5]];
  const data = shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b) }, () => Math.fround(rand())));
  const g = new Map(shapes.map((s, i) => [`g${i}`, tf.tensor(data[i], s)] as const));
  const refNorm = Math.sqrt(data.flat().reduce((a, x) => a + x * x, 0));
  const { totalNorm, grads } = await clipGradNorm(g, 1);
  assert.ok(Math.abs(totalNorm - refNorm) <= 1e-6 * refNorm, `norm ${totalNorm} vs ${refNorm}`);
  const clippedNorm = Math.sqrt(Object.values(await values(grads)).flat().reduce((a, x) => a + x * x, 0));
  assert.ok(Math.abs(clippedNorm - 1) <= 1e-5, `clipped norm ${clippedNorm}`);
  disposeAll(grads);
  disposeAll(g);
});

test('clip: no gradients gives norm 0; negative max norm is refused', async () => {
  const { totalNorm, grads } = await clipGradNorm(new Map(), 1);
  assert.equal(totalNorm, 0);
  assert.equal(grads.size, 0);
  await assert.rejects(clipGradNorm(new Map(), -1), (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT');
});
