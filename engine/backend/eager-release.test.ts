/**
 * Eager release of autodiff memory (eager-release.ts): the same gradients bit for bit, a lower peak, no
 * tensors left behind, and nothing released that is not the backward pass's own (a caller's dy, a weight a
 * gradient function hands back, a pass-through gradient), with higher-order gradients untouched. Runs on
 * the cpu backend, where the engine is the same as on every other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from './tf';
import { initBackend } from './select';
import { installEagerGradientRelease, uninstallEagerGradientRelease } from './eager-release';

/** A small MLP-ish chain with a residual: several nodes save inputs, one gradient accumulates. */
function net(x: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor, b: tf.Tensor): tf.Scalar {
  const h = tf.tanh(tf.add(tf.matMul(x, w1), b));
  const r = tf.add(tf.sigmoid(tf.matMul(h, w2)), h);
  return tf.sum(tf.mul(r, r));
}

function inputs() {
  const r = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 0.5, 'float32', seed);
  return { x: r([64, 32], 1), w1: r([32, 32], 2), w2: r([32, 32], 3), b: r([32], 4) };
}

async function run(): Promise<{ grads: Float32Array[]; peak: number; leaked: number }> {
  const { x, w1, w2, b } = inputs();
  const before0 = tf.memory().numTensors;
  let grads: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    grads = tf.grads((a: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => net(x, a, c, d))([w1, w2, b]);
  });
  const values = (await Promise.all(grads.map((g) => g.data()))) as Float32Array[];
  tf.dispose(grads);
  const leaked = tf.memory().numTensors - before0;
  tf.dispose([x, w1, w2, b]);
  return { grads: values, peak: info.peakBytes, leaked };
}

describe('eager release of autodiff memory', () => {
  before(async () => {
    await initBackend({ backend: 'cpu', reinit: true });
  });
  after(() => installEagerGradientRelease());

  it('gives bit-identical gradients with a lower peak, and leaves no tensor behind', async () => {
    assert.equal(installEagerGradientRelease(), true);
    const eager = await run();
    uninstallEagerGradientRelease();
    const stock = await run();
    installEagerGradientRelease();
    eager.grads.forEach((g, i) => assert.deepEqual(g, stock.grads[i], `gradient ${i}`));
    assert.ok(eager.peak < stock.peak, `peak ${eager.peak} vs stock ${stock.peak}`);
    assert.equal(eager.leaked, 0);
    assert.equal(stock.leaked, 0);
  });

  it("never releases the caller's dy, nor a tensor a gradient function hands back", () => {
    installEagerGradientRelease();
    const w = tf.tensor([1, 2, 3]);
    const constant = tf.tensor([7, 7, 7]);
    // A custom gradient that returns a tensor from outside (a constant), then a pass-through (identity-like) op.
    const f = tf.customGrad(((x: tf.Tensor) => ({ value: tf.mul(x, 2), gradFunc: () => constant })) as unknown as Parameters<typeof tf.customGrad>[0]);
    const dy = tf.tensor([1, 1, 1]);
    const g = tf.grad((x: tf.Tensor) => tf.reshape(f(tf.add(x, w)), [3]))(tf.tensor([0, 0, 0]), dy);
    assert.deepEqual(Array.from(g.dataSync()), [7, 7, 7]);
    assert.equal(dy.isDisposed, false);
    assert.equal(constant.isDisposed, false);
    assert.equal(w.isDisposed, false);
    assert.deepEqual(Array.from(constant.dataSync()), [7, 7, 7]);
    tf.dispose([w, constant, dy, g]);
  });

  it('leaves higher-order gradients alone', () => {
    installEagerGradientRelease();
    // d²/dx² of x³ = 6x.
    const second = tf.grad(tf.grad((x: tf.Tensor) => tf.pow(x, 3)));
    const v = second(tf.tensor([1, 2, -3]));
    assert.deepEqual(Array.from(v.dataSync()), [6, 12, -18]);
    v.dispose();
  });
});
