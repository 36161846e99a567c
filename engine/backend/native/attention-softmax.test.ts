/**
 * The native attention softmax, softmax(scores / √d + mask), and its gradient on the wasm backend: within
 * float32 rounding of a float64 reference and of the stock ops on the cpu backend, on every kernel this
 * CPU has, with and without a mask, for rows shorter and longer than a vector; masked keys get exactly 0; a
 * NaN score makes its row NaN as in PyTorch; the mask's gradient is right; bad shapes go to the stock ops.
 * Without the addon these tests skip locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { FLOAT32_MIN } from '../../model/layers';
import { loadAddon } from './addon';
import { nativeAttentionSoftmax } from './attention-softmax';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { countAddonCalls, forEachKernel, relL2, requireAddon, rng } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);
const calls = countAddonCalls(load.addon, ['attentionSoftmax', 'attentionSoftmaxGrad'] as const);

interface Case {
  shape: [number, number, number, number]; // [B, heads, Tq, Tk]
  scores: Float32Array;
  mask?: Float32Array; // [B, Tk]: 0 or FLOAT32_MIN
  w: Float32Array; // upstream gradient, through loss = Σ w·probs
  divisor: number;
}

function makeCase(shape: Case['shape'], masked: boolean, seed: number): Case {
  const [b, h, tq, tk] = shape;
  const r = rng(seed);
  const n = b * h * tq * tk;
  const mask = masked ? Float32Array.from({ length: b * tk }, (_, i) => (i % tk < Math.max(1, tk - (i % 3)) ? 0 : FLOAT32_MIN)) : undefined;
  return { shape, scores: Float32Array.from({ length: n }, () => r() * 12), mask, w: Float32Array.from({ length: n }, () => r()), divisor: Math.sqrt(64) };
}

/** float64 reference of probs and d(Σ w·probs)/dscores, in HF's op order. */
function reference(c: Case): [Float64Array, Float64Array] {
  const [b, h, tq, tk] = c.shape;
  const rows = b * h * tq;
  const y = new Float64Array(rows * tk);
  const dx = new Float64Array(rows * tk);
  for (let r = 0; r < rows; r++) {
    const bi = Math.floor(r / (h * tq));
    const t = Array.from({ length: tk }, (_, j) => c.scores[r * tk + j]! / c.divisor + (c.mask ? c.mask[bi * tk + j]! : 0));
    const mx = Math.max(...t);
    const e = t.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, v) => a + v, 0);
    let dot = 0;
    for (let j = 0; j < tk; j++) (y[r * tk + j] = e[j]! / s), (dot += c.w[r * tk + j]! * y[r * tk + j]!);
    for (let j = 0; j < tk; j++) dx[r * tk + j] = (y[r * tk + j]! * (c.w[r * tk + j]! - dot)) / c.divisor;
  }
  return [y, dx];
}

function stock(scores: tf.Tensor4D, mask: tf.Tensor4D | undefined, divisor: number): tf.Tensor {
  const scaled = tf.div(scores, divisor);
  return tf.softmax(mask ? tf.add(scaled, mask) : scaled);
}

async function evaluate(c: Case, native: boolean): Promise<[Float32Array, Float32Array]> {
  const [b, , , tk] = c.shape;
  const s = tf.tensor4d(c.scores, c.shape);
  const m = c.mask ? tf.tensor4d(c.mask, [b, 1, 1, tk]) : undefined;
  const w = tf.tensor4d(c.w, c.shape);
  const f = (x: tf.Tensor) => (native ? nativeAttentionSoftmax(x as tf.Tensor4D, m, c.divisor)! : stock(x as tf.Tensor4D, m, c.divisor));
  const y = f(s);
  const dx = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(f(x), w)))(s);
  const out = [(await y.data()) as Float32Array, (await dx.data()) as Float32Array] as [Float32Array, Float32Array];
  tf.dispose([s, w, y, dx, ...(m ? [m] : [])]);
  return out;
}

describe('native attention softmax on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
  });
  after(() => uninstallNativeKernels());

  const shapes: Case['shape'][] = [
    [2, 3, 5, 5], // rows shorter than a vector
    [2, 2, 7, 19], // a vector plus a tail
    [4, 4, 128, 128], // BERT-sized rows, many tasks
  ];
  for (const shape of shapes) {
    for (const masked of [true, false]) {
      it(`${JSON.stringify(shape)} ${masked ? 'masked' : 'unmasked'}: probs and dscores match float64 and the cpu backend`, async () => {
        const c = makeCase(shape, masked, shape[3] * 7 + (masked ? 1 : 0));
        const [ry, rdx] = reference(c);
        await tf.setBackend('cpu');
        const cpu = await evaluate(c, false);
        await tf.setBackend('wasm');
        assert.equal(installNativeKernels().active, true);
        await forEachKernel(load.addon!, async (isa) => {
          const before0 = { ...calls };
          const [y, dx] = await evaluate(c, true);
          assert.equal(calls.attentionSoftmax - before0.attentionSoftmax, 2, 'forward alone, then under grad');
          assert.equal(calls.attentionSoftmaxGrad - before0.attentionSoftmaxGrad, 1);
          assert.ok(relL2(y, ry) < 1e-6, `${isa} probs: ${relL2(y, ry)} to float64`);
          assert.ok(relL2(dx, rdx) < 2e-6, `${isa} dscores: ${relL2(dx, rdx)} to float64`);
          assert.ok(relL2(y, cpu[0]) < 2e-6 && relL2(dx, cpu[1]) < 4e-6, `${isa}: to the cpu backend ${relL2(y, cpu[0])}, ${relL2(dx, cpu[1])}`);
          if (c.mask) {
            const [b, h, tq, tk] = shape;
            for (let r = 0; r < b * h * tq; r++)
              for (let j = 0; j < tk; j++) if (c.mask[Math.floor(r / (h * tq)) * tk + j] !== 0) assert.equal(y[r * tk + j], 0, 'a masked key gets exactly 0');
          }
        });
      });
    }
  }

  it('a NaN or infinite score makes its whole row NaN (as in PyTorch) and leaves the other rows alone', async () => {
    await forEachKernel(load.addon!, async (isa) => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const data = new Float32Array(3 * 11).fill(1);
        data[3] = bad;
        data.fill(-Infinity, 22); // a row of −inf alone: −inf − (−inf) is NaN too
        const s = tf.tensor4d(data, [1, 1, 3, 11]);
        const y = await nativeAttentionSoftmax(s, undefined, 8)!.data();
        if (bad === -Infinity) assert.equal(y[3], 0, `${isa}: one −inf score is just never attended`);
        else assert.ok(Array.from(y.slice(0, 11)).every(Number.isNaN), `${isa} ${bad}: row 0 all NaN`);
        assert.ok(Array.from(y.slice(11, 22)).every((v) => Math.abs(v - 1 / 11) < 1e-7), `${isa}: row 1 uniform`);
        assert.ok(Array.from(y.slice(22)).every(Number.isNaN), `${isa}: row 2 all NaN`);
        s.dispose();
      }
    });
  });

  it("the mask's gradient is the softmax gradient summed over heads and queries", async () => {
    const c = makeCase([2, 3, 4, 6], true, 5);
    const s = tf.tensor4d(c.scores, c.shape);
    const w = tf.tensor4d(c.w, c.shape);
    const m = tf.tensor4d(c.mask!.map(() => 0), [2, 1, 1, 6]); // finite, so the stock gradient is finite too
    const viaNative = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(nativeAttentionSoftmax(s, x as tf.Tensor4D, c.divisor)!, w)))(m);
    const viaStock = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(stock(s, x as tf.Tensor4D, c.divisor), w)))(m);
    assert.deepEqual(viaNative.shape, [2, 1, 1, 6]);
    assert.ok(relL2(await viaNative.data(), await viaStock.data()) < 1e-5);
    tf.dispose([s, w, m, viaNative, viaStock]);
  });

  it('declines a mask that is not [B, 1, 1, Tk], and works only where installed', () => {
    const s = tf.zeros([2, 2, 3, 3]) as tf.Tensor4D;
    assert.equal(nativeAttentionSoftmax(s, tf.zeros([2, 1, 3, 3]) as tf.Tensor4D, 8), undefined);
    assert.equal(nativeAttentionSoftmax(s, tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, 8), undefined);
    assert.ok(nativeAttentionSoftmax(s, tf.zeros([2, 1, 1, 3]) as tf.Tensor4D, 8));
    uninstallNativeKernels();
    try {
      assert.equal(nativeAttentionSoftmax(s, undefined, 8), undefined);
    } finally {
      installNativeKernels();
    }
  });
});
