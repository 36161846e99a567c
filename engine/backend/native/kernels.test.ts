/**
 * The native BatchMatMul and _FusedMatMul kernels through TF.js: the same results as the stock wasm kernels
 * and the cpu backend (forward and gradients), the stock kernel for what they decline, and install /
 * uninstall behaviour. Without the addon these tests skip locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { loadAddon } from './addon';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { requireAddon, rng, relL2, countAddonCalls } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);

/** Counts the products that reach the addon, to tell native runs from stock fallbacks. */
const calls = countAddonCalls(load.addon, ['gemm'] as const);

function randomData(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: tf.util.sizeFromShape(shape) }, r);
}

interface MatMulCase {
  name: string;
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
  /** The native kernel should decline it (the stock kernel runs). */
  declined?: boolean;
  /** TF.js 4.22's BatchMatMul gradient does not sum over broadcast batch dims (it throws on every backend). */
  forwardOnly?: boolean;
  fused?: { activation: tf.fused.Activation; bias?: number[]; alpha?: number };
}

const CASES: MatMulCase[] = [
  { name: 'dense 33×129 · 129×7', a: [33, 129], b: [129, 7] },
  { name: 'dense, a transposed', a: [129, 33], b: [129, 7], transA: true },
  { name: 'dense, b transposed (x·Wᵀ)', a: [33, 129], b: [7, 129], transB: true },
  { name: 'dense, both transposed', a: [129, 33], b: [7, 129], transA: true, transB: true },
  { name: 'batched rank 3', a: [4, 33, 17], b: [4, 17, 9] },
  { name: 'batched rank 4, attention q·kᵀ', a: [2, 2, 16, 8], b: [2, 2, 16, 8], transB: true },
  { name: 'batched rank 4, attention p·v', a: [2, 2, 16, 16], b: [2, 2, 16, 8] },
  { name: 'attention gradient pᵀ·dy', a: [2, 2, 16, 16], b: [2, 2, 16, 8], transA: true },
  { name: 'a broadcast over the batch ([1, …] × [5, …])', a: [1, 33, 17], b: [5, 17, 9], forwardOnly: true },
  { name: 'rank 2 × rank 3 broadcast', a: [33, 17], b: [5, 9, 17], transB: true, forwardOnly: true },
  { name: 'rank 3 × rank 2 broadcast', a: [5, 17, 33], b: [17, 9], transA: true, forwardOnly: true },
  { name: 'general batch broadcast [2,1] × [1,3] (stock)', a: [2, 1, 7, 5], b: [1, 3, 5, 4], declined: true, forwardOnly: true },
  { name: 'fused, bias + relu', a: [33, 17], b: [17, 9], fused: { activation: 'relu', bias: [9] } },
  { name: 'fused, bias [1, n] + elu, b transposed', a: [3, 33, 17], b: [3, 9, 17], transB: true, fused: { activation: 'elu', bias: [1, 9] } },
  { name: 'fused, relu6, no bias', a: [33, 17], b: [17, 9], fused: { activation: 'relu6' } },
  { name: 'fused, sigmoid', a: [33, 17], b: [17, 9], fused: { activation: 'sigmoid', bias: [9] } },
  { name: 'fused, leakyrelu', a: [33, 17], b: [17, 9], fused: { activation: 'leakyrelu', bias: [9], alpha: 0.3 } },
  { name: 'fused, linear + bias, a transposed', a: [17, 33], b: [17, 9], transA: true, fused: { activation: 'linear', bias: [9] } },
  { name: 'fused, prelu (stock)', a: [33, 17], b: [17, 9], declined: true, fused: { activation: 'prelu', bias: [9] } },
];

/**
 * Output and the gradients of Σ(out ⊙ w) with respect to a and b (and bias), on the current backend, and
 * how many products of the forward pass reached the addon.
 */
async function evaluate(c: MatMulCase, i: number): Promise<{ data: Float32Array[]; forwardCalls: number }> {
  const a = tf.tensor(randomData(c.a, 10 * i + 1), c.a);
  const b = tf.tensor(randomData(c.b, 10 * i + 2), c.b);
  const bias = c.fused?.bias ? tf.tensor(randomData(c.fused.bias, 10 * i + 3), c.fused.bias) : undefined;
  const prelu = c.fused?.activation === 'prelu' ? tf.fill([c.fused.bias![0]!], 0.25) : undefined;
  const product = (x: tf.Tensor, y: tf.Tensor, z?: tf.Tensor) =>
    c.fused
      ? tf.fused.matMul({ a: x, b: y, transposeA: c.transA, transposeB: c.transB, bias: z, activation: c.fused.activation, preluActivationWeights: prelu, leakyreluAlpha: c.fused.alpha })
      : tf.matMul(x, y, c.transA, c.transB);
  const before = calls.gemm;
  const out = product(a, b, bias);
  const forwardCalls = calls.gemm - before;
  const w = tf.tensor(randomData(out.shape, 10 * i + 4), out.shape);
  const inputs = bias ? [a, b, bias] : [a, b];
  const grads = c.forwardOnly ? [] : tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(product(xs[0]!, xs[1]!, xs[2]), w)))(inputs);
  const result = await Promise.all([out, ...grads].map(async (t) => (await t.data()) as Float32Array));
  tf.dispose([a, b, out, w, ...grads, ...(bias ? [bias] : []), ...(prelu ? [prelu] : [])]);
  return { data: result, forwardCalls };
}

describe('native matMul kernels on the wasm backend', { skip }, () => {
  const saved = { native: process.env.PEFT_STUDIO_NATIVE, threads: process.env.PEFT_STUDIO_THREADS };
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
    // Selecting wasm installs the native kernels; these tests start from the stock ones.
    uninstallNativeKernels();
    delete process.env.PEFT_STUDIO_NATIVE;
    delete process.env.PEFT_STUDIO_THREADS;
  });
  after(() => {
    uninstallNativeKernels();
    for (const [key, value] of [['PEFT_STUDIO_NATIVE', saved.native], ['PEFT_STUDIO_THREADS', saved.threads]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('PEFT_STUDIO_NATIVE=0 and a bad PEFT_STUDIO_THREADS leave the stock kernels, saying why', () => {
    const stock = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    process.env.PEFT_STUDIO_NATIVE = '0';
    const off = installNativeKernels();
    assert.equal(off.active, false);
    assert.match(off.reason!, /PEFT_STUDIO_NATIVE=0/);
    delete process.env.PEFT_STUDIO_NATIVE;
    process.env.PEFT_STUDIO_THREADS = 'many';
    const bad = installNativeKernels();
    assert.equal(bad.active, false);
    assert.match(bad.reason!, /PEFT_STUDIO_THREADS="many"/);
    delete process.env.PEFT_STUDIO_THREADS;
    assert.equal(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc, stock);
  });

  it('install replaces BatchMatMul and _FusedMatMul (idempotently), uninstall restores the stock ones', () => {
    const stock = ['BatchMatMul', '_FusedMatMul'].map((k) => tf.getKernel(k, 'wasm')!.kernelFunc);
    process.env.PEFT_STUDIO_THREADS = '3';
    const status = installNativeKernels();
    delete process.env.PEFT_STUDIO_THREADS;
    assert.deepEqual(status, { active: true, threads: 3, isa: load.addon!.info().bestIsa });
    const native = ['BatchMatMul', '_FusedMatMul'].map((k) => tf.getKernel(k, 'wasm')!.kernelFunc);
    native.forEach((f, i) => assert.notEqual(f, stock[i]));
    assert.equal(installNativeKernels(), status);
    assert.deepEqual(['BatchMatMul', '_FusedMatMul'].map((k) => tf.getKernel(k, 'wasm')!.kernelFunc), native);
    uninstallNativeKernels();
    assert.deepEqual(['BatchMatMul', '_FusedMatMul'].map((k) => tf.getKernel(k, 'wasm')!.kernelFunc), stock);
    const again = installNativeKernels();
    assert.equal(again.threads, os.availableParallelism());
    uninstallNativeKernels();
  });

  it('every case matches the stock wasm kernels and the cpu backend, forward and gradients', async () => {
    await tf.setBackend('cpu');
    const cpu: Float32Array[][] = [];
    for (const [i, c] of CASES.entries()) cpu.push((await evaluate(c, i)).data);
    await tf.setBackend('wasm');
    uninstallNativeKernels();
    const stock: (Float32Array[] | undefined)[] = [];
    for (const [i, c] of CASES.entries()) {
      // Where stock wasm is not a reference, the cpu backend alone is: its fused kernel takes rank-1 biases
      // only, and with transposeA it adds the bias at wrong positions (4.22: in [3,4]ᵀ·[3,2] + [0, 1],
      // output row 1 column 0 gets bias 1).
      const stockIsReference = c.fused?.bias?.length !== 2 && !(c.fused?.bias && c.transA);
      stock.push(stockIsReference ? (await evaluate(c, i)).data : undefined);
    }
    assert.equal(installNativeKernels().active, true);
    for (const [i, c] of CASES.entries()) {
      const { data: native, forwardCalls } = await evaluate(c, i);
      assert.equal(forwardCalls, c.declined ? 0 : 1, `${c.name}: ${forwardCalls} forward products reached the addon`);
      native.forEach((got, j) => {
        const what = j === 0 ? 'output' : `gradient ${j - 1}`;
        assert.ok(relL2(got, cpu[i]![j]!) <= 1e-6, `${c.name}, ${what}: rel L2 ${relL2(got, cpu[i]![j]!)} vs the cpu backend`);
        if (stock[i]) assert.ok(relL2(got, stock[i]![j]!) <= 1e-6, `${c.name}, ${what}: rel L2 ${relL2(got, stock[i]![j]!)} vs stock wasm`);
      });
    }
    uninstallNativeKernels();
  });

  it('products large enough to use several threads and both kernels agree with stock wasm', async () => {
    const shapes: [number[], number[], boolean, boolean][] = [
      [[512, 128], [128, 512], false, false],
      [[512, 512], [128, 512], false, true],
      [[16, 128, 64], [16, 128, 64], false, true],
      [[16, 128, 128], [16, 128, 64], true, false],
    ];
    const run = async () =>
      Promise.all(
        shapes.map(async ([sa, sb, ta, tb], i) => {
          const [a, b] = [tf.tensor(randomData(sa, i + 100), sa), tf.tensor(randomData(sb, i + 200), sb)];
          const out = tf.matMul(a, b, ta, tb);
          const data = (await out.data()) as Float32Array;
          tf.dispose([a, b, out]);
          return data;
        }),
      );
    uninstallNativeKernels();
    const stock = await run();
    installNativeKernels();
    const addon = load.addon!;
    const { threads } = addon.info();
    for (const isa of addon.info().bestIsa === 'avx2' ? (['avx2', 'generic'] as const) : (['generic'] as const)) {
      addon.configure(Math.max(2, threads), isa);
      const native = await run();
      native.forEach((got, i) => assert.ok(relL2(got, stock[i]!) <= 1e-6, `${isa}, shape ${i}: rel L2 ${relL2(got, stock[i]!)}`));
    }
    addon.configure(threads);
    uninstallNativeKernels();
  });
});
