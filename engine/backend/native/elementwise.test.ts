/**
 * The native GELU (forward and gradient), Sum and copy-free Identity on the wasm backend: GELU within a
 * few float32 roundings of a float64 reference on both kernels, and all three matching the stock wasm
 * kernels and the cpu backend through TF.js, with the stock kernel for what they decline. Without the addon
 * these tests skip locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { activation } from '../../model/layers';
import { loadAddon } from './addon';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { requireAddon, rng, relL2, countAddonCalls } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);

/** Counts calls reaching the addon, to tell native runs from stock fallbacks. */
const calls = countAddonCalls(load.addon, ['gelu', 'geluGrad', 'sum'] as const);

function randomData(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * scale);
}

/** erf in float64: Maclaurin series below 2.5, Lentz-free continued fraction for erfc above (both < 1e-15 relative). */
function erf64(z: number): number {
  const t = Math.abs(z);
  let r: number;
  if (t < 2.5) {
    let s = 0;
    let term = t;
    for (let k = 0; k < 200 && Math.abs(term) > 1e-18 * Math.abs(s + term); k++) (s += term / (2 * k + 1)), (term *= (-t * t) / (k + 1));
    r = (2 / Math.sqrt(Math.PI)) * s;
  } else {
    let f = 0;
    for (let k = 80; k >= 1; k--) f = k / 2 / (t + f);
    r = 1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f);
  }
  return z < 0 ? -r : r;
}

/** The spacing of float32 values around v. */
function ulp(v: number): number {
  const a = Math.abs(Math.fround(v));
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** Inputs for GELU: a dense sweep over [-10, 10], magnitudes over many octaves, and special values. */
function geluInputs(): Float32Array {
  const n = 200_003; // not a multiple of the vector width or of a task's chunk
  const x = new Float32Array(n);
  const r = rng(7);
  for (let i = 0; i < n; i++) x[i] = i % 2 ? ((i / n) * 2 - 1) * 10 : Math.sign(r()) * Math.exp(r() * 25 - 5);
  x.set([0, -0, 0.927734375, -0.927734375, 3.92, -3.92, 1e-30, -1e-30, 88, -88, 1e30, -1e30], 0);
  return x;
}

describe('native elementwise kernels on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
  });
  after(() => uninstallNativeKernels());

  it('GELU and its gradient are within float32 rounding of float64, on every kernel this CPU has', () => {
    const addon = load.addon!;
    const x = geluInputs();
    const n = x.length;
    const heap = new ArrayBuffer(16 * n);
    new Float32Array(heap, 0, n).set(x);
    const dy = new Float32Array(heap, 8 * n, n).fill(1);
    const { threads, bestIsa } = addon.info();
    for (const isa of bestIsa === 'avx2' ? (['avx2', 'generic'] as const) : (['generic'] as const)) {
      addon.configure(Math.max(2, threads), isa);
      addon.gelu(heap, 0, 4 * n, n);
      addon.geluGrad(heap, 0, 8 * n, 12 * n, n);
      const y = new Float32Array(heap, 4 * n, n);
      const dx = new Float32Array(heap, 12 * n, n);
      assert.ok(dy[0] === 1);
      let worstY = 0;
      let worstDx = 0;
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        // The stock op order in float32 with a correctly rounded erf: y = (x·0.5)·(erf(x·√½) + 1). An erf
        // 1 ulp off moves (erf + 1) by one ulp of erf plus one of its own rounding, allowed on top of y's.
        const e = Math.fround(erf64(Math.fround(v * Math.fround(Math.SQRT1_2))));
        const ref = Math.fround(Math.fround(v * 0.5) * Math.fround(e + 1));
        const errY = Math.abs(y[i]! - ref) / (ulp(ref) + Math.abs(v * 0.5) * (ulp(e) + ulp(e + 1)));
        if (!(errY <= 2)) assert.fail(`${isa} gelu(${v}) = ${y[i]}, reference ${ref} (${errY} units)`);
        worstY = Math.max(worstY, errY);
        // Gradient: cdf + x·pdf against its largest term. 0.5·(1 + erf) in float32 carries an absolute error
        // up to 2^-25 wherever erf is near ±1 (the stock expression's too), hence the absolute allowance.
        const cdf = 0.5 * (1 + erf64(v / Math.SQRT2));
        const xpdf = (v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
        const g = Number.isFinite(v) && Math.abs(v) < 1e20 ? cdf + xpdf : cdf;
        const errDx = Math.max(0, Math.abs(dx[i]! - g) - 2 ** -24) / ulp(Math.max(Math.abs(g), cdf, Math.abs(xpdf), 2 ** -126));
        if (!(errDx <= 2)) assert.fail(`${isa} gelu'(${v}) = ${dx[i]}, reference ${g} (${errDx} ulp)`);
        worstDx = Math.max(worstDx, errDx);
      }
    }
    addon.configure(threads);
  });

  it('activation("gelu") runs the native kernels and matches stock wasm and the cpu backend, forward and gradient', async () => {
    const shape = [3, 37, 129];
    const x = randomData(3 * 37 * 129, 11, 4);
    const w = randomData(3 * 37 * 129, 12);
    const evaluate = async () => {
      const xt = tf.tensor(x, shape);
      const wt = tf.tensor(w, shape);
      const y = activation('gelu', xt);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(activation('gelu', t), wt)))(xt);
      const out = [(await y.data()) as Float32Array, (await dx.data()) as Float32Array];
      tf.dispose([xt, wt, y, dx]);
      return out;
    };
    await tf.setBackend('cpu');
    const cpu = await evaluate();
    await tf.setBackend('wasm');
    uninstallNativeKernels();
    const stock = await evaluate();
    assert.equal(installNativeKernels().active, true);
    const before = { ...calls };
    const native = await evaluate();
    assert.equal(calls.gelu - before.gelu, 2, 'forward GELU (twice: once alone, once under grad) reached the addon');
    assert.equal(calls.geluGrad - before.geluGrad, 1, 'the GELU gradient reached the addon');
    for (const [j, what] of ['output', 'gradient'].entries()) {
      assert.ok(relL2(native[j]!, cpu[j]!) <= 1e-6, `${what}: rel L2 ${relL2(native[j]!, cpu[j]!)} vs the cpu backend`);
      assert.ok(relL2(native[j]!, stock[j]!) <= 1e-6, `${what}: rel L2 ${relL2(native[j]!, stock[j]!)} vs stock wasm`);
    }
    uninstallNativeKernels();
  });

  interface SumCase {
    shape: number[];
    axis: number | number[];
    keepDims?: boolean;
    dtype?: 'float32' | 'int32';
    /** The native kernel should decline it (the stock kernel runs). */
    declined?: boolean;
  }
  const SUMS: SumCase[] = [
    { shape: [4096, 128], axis: 0 }, // a bias gradient
    { shape: [11, 128, 131], axis: [0, 1] },
    { shape: [11, 128, 131], axis: [1, 0], keepDims: true },
    { shape: [11, 128, 131], axis: -1 },
    { shape: [11, 2, 128, 128], axis: [2, 3], keepDims: true },
    { shape: [300, 7], axis: [0, 1] },
    { shape: [1, 5], axis: 0 },
    { shape: [5, 3], axis: 1, keepDims: true },
    { shape: [4, 5, 6], axis: 1, declined: true }, // neither leading nor trailing
    { shape: [40, 6], axis: 0, dtype: 'int32', declined: true },
    { shape: [0, 6], axis: 0, declined: true },
  ];

  const sumInput = (c: SumCase, i: number) => {
    const n = tf.util.sizeFromShape(c.shape);
    return c.dtype === 'int32' ? Int32Array.from(randomData(n, i + 1, 100), Math.round) : randomData(n, i + 1);
  };

  /** The exact sum (float64) over `axis`, in the output's order. */
  function sum64(data: ArrayLike<number>, shape: number[], axis: number | number[]): Float64Array {
    const axes = tf.util.parseAxisParam(axis, shape);
    const keptSizes = shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = new Float64Array(tf.util.sizeFromShape(keptSizes));
    const strides = tf.util.computeStrides(keptSizes);
    const inStrides = tf.util.computeStrides(shape);
    for (let i = 0; i < data.length; i++) {
      let o = 0;
      for (let d = 0, rem = i; d < shape.length; d++) {
        const coord = d < shape.length - 1 ? Math.floor(rem / inStrides[d]!) : rem;
        rem -= d < shape.length - 1 ? coord * inStrides[d]! : 0;
        if (!axes.includes(d)) o += d < shape.length - 1 ? coord * strides[d]! : coord;
      }
      out[o] += data[i]!;
    }
    return out;
  }

  it('Sum over leading and trailing axes is as close to the exact sum as stock wasm and the cpu backend; other sums go stock', async () => {
    const run = async () => {
      const out: { data: Float32Array | Int32Array; shape: number[]; calls: number }[] = [];
      for (const [i, c] of SUMS.entries()) {
        const before = calls.sum;
        const data = sumInput(c, i);
        const t = tf.tensor(data, c.shape, c.dtype);
        const s = tf.sum(t, c.axis, c.keepDims);
        out.push({ data: (await s.data()) as Float32Array, shape: s.shape, calls: calls.sum - before });
        tf.dispose([t, s]);
      }
      return out;
    };
    await tf.setBackend('cpu');
    const cpu = await run();
    await tf.setBackend('wasm');
    uninstallNativeKernels();
    const stock = await run();
    installNativeKernels();
    const natives = await run();
    for (const [i, c] of SUMS.entries()) {
      const native = natives[i]!;
      const name = `sum of [${c.shape}] over ${JSON.stringify(c.axis)}${c.keepDims ? ', keepDims' : ''}${c.dtype ? `, ${c.dtype}` : ''}`;
      assert.equal(native.calls, c.declined ? 0 : 1, `${name}: native calls`);
      assert.deepEqual(native.shape, cpu[i]!.shape, name);
      // Stock wasm and cpu add thousands of floats in one running sum (rel. error up to ~2e-6 here); the
      // native sums use partial sums, so each is held to the exact sum and to the others' error.
      const exact = sum64(sumInput(c, i), c.shape, c.axis);
      const err = relL2(native.data, exact);
      const worst = Math.max(relL2(cpu[i]!.data, exact), relL2(stock[i]!.data, exact));
      assert.ok(err <= Math.max(2e-7, worst), `${name}: rel L2 ${err} to the exact sum (stock wasm / cpu: ${worst})`);
    }
    uninstallNativeKernels();
  });

  it('Identity shares memory: a clone outlives its source and reads the same values', async () => {
    installNativeKernels();
    const a = tf.tensor([1.5, -2, 3, 4], [2, 2]);
    const b = tf.clone(a);
    const c = tf.clone(tf.tensor([true, false], [2], 'bool'));
    a.dispose();
    assert.deepEqual(Array.from(await b.data()), [1.5, -2, 3, 4]);
    assert.deepEqual(Array.from(await c.data()), [1, 0]);
    const before = tf.memory().numBytes;
    b.dispose();
    c.dispose();
    assert.ok(tf.memory().numBytes < before, 'disposing the last reference frees the memory');
    uninstallNativeKernels();
  });
});
