/**
 * The fused native LayerNorm on the wasm backend, through layers.ts's layerNorm: output and the gradients
 * to x, gamma and beta against a float64 reference and the cpu backend's stock ops, on every kernel this CPU
 * has and on awkward shapes (one row, widths not a multiple of the vector width, more rows than one task
 * holds); dgamma / dbeta bit-identical whatever the thread count. Without the addon these tests skip
 * locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { layerNorm } from '../../model/layers';
import { ParamStore } from '../../model/params';
import { loadAddon } from './addon';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { countAddonCalls, forEachKernel, relL2, requireAddon, rng } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);
const EPS = 1e-12; // BERT's layer_norm_eps: below float32's resolution of var, so var + eps rounds like stock's

/** Counts calls reaching the addon, to tell native runs from stock fallbacks. */
const calls = countAddonCalls(load.addon, ['layerNorm', 'layerNormGrad', 'add'] as const);

function randomData(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => offset + r() * scale);
}

interface Case {
  rows: number;
  cols: number;
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  /** Upstream gradient: the loss is Σ y·w. */
  w: Float32Array;
}

type Results = [y: Float64Array | Float32Array, dx: Float64Array | Float32Array, dgamma: Float64Array | Float32Array, dbeta: Float64Array | Float32Array];

/** Forward and the three gradients in float64, from the textbook formulas (not the kernel's). */
function reference({ rows, cols, x, gamma, beta, w }: Case): Results {
  const y = new Float64Array(rows * cols);
  const dx = new Float64Array(rows * cols);
  const dgamma = new Float64Array(cols);
  const dbeta = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[o + c]!;
    mean /= cols;
    let v = 0;
    for (let c = 0; c < cols; c++) v += (x[o + c]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / cols + Math.fround(EPS));
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c]! - mean) * rstd;
      y[o + c] = xh * gamma[c]! + beta[c]!;
      const g = w[o + c]! * gamma[c]!;
      (sg += g), (sgx += g * xh);
      (dgamma[c] += w[o + c]! * xh), (dbeta[c] += w[o + c]!);
    }
    for (let c = 0; c < cols; c++) dx[o + c] = rstd * (w[o + c]! * gamma[c]! - sg / cols - ((x[o + c]! - mean) * rstd * sgx) / cols);
  }
  return [y, dx, dgamma, dbeta];
}

/** layers.ts's layerNorm and its gradients on the current backend. */
async function evaluate({ rows, cols, x, gamma, beta, w }: Case): Promise<Results> {
  const xt = tf.tensor(x, [rows, cols]);
  const gt = tf.tensor(gamma, [cols]);
  const bt = tf.tensor(beta, [cols]);
  const wt = tf.tensor(w, [rows, cols]);
  const ln = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const p = new ParamStore();
    p.set('ln.weight', g);
    p.set('ln.bias', b);
    return layerNorm(p, 'ln', xi, EPS);
  };
  const y = ln(xt, gt, bt);
  const grads = tf.grads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(ln(xi, g, b), wt)))([xt, gt, bt]);
  const out = (await Promise.all([y, ...grads].map((t) => t.data()))) as Float32Array[];
  tf.dispose([xt, gt, bt, wt, y, ...grads]);
  return out as Results;
}

const NAMES = ['y', 'dx', 'dgamma', 'dbeta'];

function makeCase(rows: number, cols: number): Case {
  const n = rows * cols;
  // An offset mean (3) and a spread of scales: cancellation in x − mean is where float32 sums go wrong.
  return { rows, cols, x: randomData(n, rows * 31 + cols, 2, 3), gamma: randomData(cols, cols + 1, 0.5, 1), beta: randomData(cols, cols + 2, 0.5), w: randomData(n, n + 3) };
}

describe('native LayerNorm on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
  });
  after(() => uninstallNativeKernels());

  for (const rows of [1, 7, 33, 4096]) {
    for (const cols of [1, 3, 128, 768]) {
      it(`[${rows}, ${cols}]: output and the gradients to x, gamma, beta match float64 and the cpu backend`, async () => {
        const c = makeCase(rows, cols);
        const ref = reference(c);
        await tf.setBackend('cpu');
        const cpu = await evaluate(c);
        await tf.setBackend('wasm');
        assert.equal(installNativeKernels().active, true);
        await forEachKernel(load.addon!, async (isa) => {
          const before = { ...calls };
          const native = await evaluate(c);
          assert.equal(calls.layerNorm - before.layerNorm, 2, 'forward LayerNorm (alone, then under grads) reached the addon');
          assert.equal(calls.layerNormGrad - before.layerNormGrad, 1, 'one backward kernel gave all three gradients');
          for (let j = 0; j < 4; j++) {
            const errNative = relL2(native[j]!, ref[j]!);
            const errCpu = relL2(cpu[j]!, ref[j]!);
            // A few float32 roundings of the largest terms, or no worse than stock where the problem
            // itself is ill-conditioned (width 3: x − mean cancels, and rstd magnifies what is left).
            assert.ok(errNative <= Math.max(1e-6, errCpu), `${isa} ${NAMES[j]}: rel L2 ${errNative} to float64 (cpu backend: ${errCpu})`);
            // Against stock: both errors apart, at most (the two may err in opposite directions).
            assert.ok(relL2(native[j]!, cpu[j]!) <= Math.max(2e-6, 2 * errCpu), `${isa} ${NAMES[j]}: rel L2 ${relL2(native[j]!, cpu[j]!)} to the cpu backend`);
          }
        });
      });
    }
  }

  it('dgamma and dbeta are bit-identical with 1 thread and with several', async () => {
    const c = makeCase(4096, 128);
    const addon = load.addon!;
    const { threads } = addon.info();
    assert.equal(installNativeKernels().active, true);
    try {
      addon.configure(1);
      const one = await evaluate(c);
      addon.configure(Math.max(4, threads));
      const many = await evaluate(c);
      for (let j = 0; j < 4; j++) assert.deepEqual(many[j], one[j], NAMES[j]);
    } finally {
      addon.configure(threads);
    }
  });

  it('declines what it does not cover: gamma not [H] goes to the stock ops', async () => {
    assert.equal(installNativeKernels().active, true);
    const before = { ...calls };
    const x = tf.ones([2, 4]);
    const p = new ParamStore();
    p.set('ln.weight', tf.ones([1, 4]));
    p.set('ln.bias', tf.zeros([4]));
    const y = layerNorm(p, 'ln', x, EPS);
    assert.deepEqual(y.shape, [2, 4]);
    assert.equal(calls.layerNorm, before.layerNorm);
    tf.dispose([x, y, p.get('ln.weight'), p.get('ln.bias')]);
  });

  it('add & norm, LayerNorm(x + residual): one kernel, the same output and gradients to x, residual, gamma and beta as adding first', async () => {
    assert.equal(installNativeKernels().active, true);
    const r = rng(11);
    const data = (n: number, scale = 1) => Float32Array.from({ length: n }, () => r() * scale);
    const [rows, cols] = [37, 128];
    const x = tf.tensor2d(data(rows * cols, 2), [rows, cols]);
    const res = tf.tensor2d(data(rows * cols, 3), [rows, cols]);
    const w = tf.tensor2d(data(rows * cols), [rows, cols]);
    const gamma = tf.tensor1d(data(cols, 0.5).map((v) => v + 1));
    const beta = tf.tensor1d(data(cols, 0.5));
    const run = (fused: boolean) => {
      const f = (a: tf.Tensor, b: tf.Tensor, g: tf.Tensor, be: tf.Tensor) => {
        const p = new ParamStore();
        p.set('ln.weight', g);
        p.set('ln.bias', be);
        return tf.sum(tf.mul(fused ? layerNorm(p, 'ln', a, EPS, b) : layerNorm(p, 'ln', tf.add(a, b), EPS), w));
      };
      const before0 = { ...calls };
      const out = tf.grads(f)([x, res, gamma, beta]);
      return { values: out.map((t) => t.dataSync()), nativeAdds: calls.add - before0.add, norms: calls.layerNorm - before0.layerNorm };
    };
    const fused = run(true);
    const separate = run(false);
    assert.deepEqual([fused.nativeAdds, fused.norms], [1, 1], 'the residual was added inside the add & norm kernel');
    assert.deepEqual([separate.nativeAdds, separate.norms], [0, 1]);
    fused.values.forEach((v, i) => assert.ok(relL2(v, separate.values[i]!) < 1e-6, `gradient ${i}: ${relL2(v, separate.values[i]!)}`));
    // x and residual get the same gradient, as they would through an Add.
    assert.deepEqual(fused.values[0], fused.values[1]);
    tf.dispose([x, res, w, gamma, beta]);
  });
});
