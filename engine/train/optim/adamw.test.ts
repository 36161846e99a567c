import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import { AdamW, BUCKET_FLOATS } from './adamw';
import { mulberry32 } from '../../data/rng';

// ---------- helpers ----------

/** The engine's seeded PRNG, so the "random" cases are the same on every run. */
const rng = mulberry32;

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Values as float32 would store them, so reference and implementation start from the same inputs. */
const f32 = (xs: number[]): number[] => xs.map(Math.fround);

interface RefHyper {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One parameter's state in the float64 reference. */
interface RefParam {
  p: number[];
  m: number[];
  v: number[];
}

type Variant = 'torch' | 'epsOutsideCorrection' | 'decayAfterUpdate' | 'noBiasCorrection';

/**
 * Independent float64 reference of torch.optim.AdamW (_single_tensor_adamw), written as plain loops.
 * `variant` lets the tests build deliberately wrong optimizers and prove the comparison can tell them apart.
 */
function refStep(s: RefParam, g: number[], t: number, lr: number, h: RefHyper, variant: Variant = 'torch'): void {
  const bc1 = variant === 'noBiasCorrection' ? 1 : 1 - h.beta1 ** t;
  const bc2 = variant === 'noBiasCorrection' ? 1 : 1 - h.beta2 ** t;
  for (let i = 0; i < s.p.length; i++) {
    if (variant !== 'decayAfterUpdate') s.p[i] *= 1 - lr * h.weightDecay;
    s.m[i] = h.beta1 * s.m[i] + (1 - h.beta1) * g[i];
    s.v[i] = h.beta2 * s.v[i] + (1 - h.beta2) * g[i] * g[i];
    const update =
      variant === 'epsOutsideCorrection'
        ? // Adam paper's "efficient" form: eps added before dividing by sqrt(bc2).
          ((lr * Math.sqrt(bc2)) / bc1) * (s.m[i] / (Math.sqrt(s.v[i]) + h.eps))
        : (lr / bc1) * (s.m[i] / (Math.sqrt(s.v[i]) / Math.sqrt(bc2) + h.eps));
    s.p[i] -= update;
    if (variant === 'decayAfterUpdate') s.p[i] *= 1 - lr * h.weightDecay;
  }
}

interface Case {
  shapes: number[][];
  gradScales: number[]; // per parameter: gradients of very different sizes, as in a real model
  steps: number;
  lr: (k: number) => number; // lr for update k (0-based), as a schedule would give
  hyper: RefHyper;
  seed: number;
}

/** Runs the implementation and the reference side by side on the same seeded data. */
async function runBoth(c: Case, variant: Variant = 'torch') {
  const r = rng(c.seed);
  const names = c.shapes.map((_, i) => `p${i}`);
  const sizes = c.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  // Initial values away from zero so a relative error is meaningful.
  const init = sizes.map((n) => f32(Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (0.5 + r()))));
  const vars = new Map(names.map((n, i) => [n, tf.variable(tf.tensor(init[i], c.shapes[i]))] as const));
  const ref: RefParam[] = init.map((p) => ({ p: [...p], m: p.map(() => 0), v: p.map(() => 0) }));
  const opt = new AdamW(vars, {
    lr: c.lr(0),
    betas: [c.hyper.beta1, c.hyper.beta2],
    eps: c.hyper.eps,
    weightDecay: c.hyper.weightDecay,
  });
  for (let k = 0; k < c.steps; k++) {
    const gs = sizes.map((n, i) => f32(Array.from({ length: n }, () => gaussian(r) * c.gradScales[i])));
    const grads = new Map(names.map((n, i) => [n, tf.tensor(gs[i], c.shapes[i])] as const));
    opt.step(grads, c.lr(k));
    grads.forEach((g) => g.dispose());
    ref.forEach((s, i) => refStep(s, gs[i], k + 1, c.lr(k), c.hyper, variant));
  }
  const got = await Promise.all(names.map(async (n) => Array.from(await vars.get(n)!.data())));
  const state = await opt.stateDict();
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return { names, got, ref, state, stepCount: state.step };
}

function maxRelErr(got: number[][], want: number[][]): number {
  let worst = 0;
  got.forEach((g, i) => g.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - want[i][j]) / Math.abs(want[i][j])))));
  return worst;
}

const TORCH_DEFAULTS = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const SHAPES = [[7], [3, 4], [1], [2, 2, 4]];

// ---------- tests ----------

for (const weightDecay of [0, 0.01]) {
  test(`AdamW matches a float64 torch reference for 25 steps (wd=${weightDecay}, scheduled lr)`, async () => {
    const c: Case = {
      shapes: SHAPES,
      gradScales: [1, 1e-3, 10, 0.05],
      steps: 25,
      lr: (k) => 1e-3 * (1 - k / 40), // a decaying lr: each update must use the lr it is given
      hyper: { ...TORCH_DEFAULTS, weightDecay },
      seed: 1234 + weightDecay * 1000,
    };
    const { got, ref, state, stepCount } = await runBoth(c);
    assert.equal(stepCount, 25);
    const errP = maxRelErr(got, ref.map((s) => s.p));
    assert.ok(errP <= 1e-6, `params: max relative error ${errP}`);
    // Second moments are sums of positive terms: relative error is meaningful everywhere.
    const errV = maxRelErr(Object.values(state.v).map((a) => Array.from(a)), ref.map((s) => s.v));
    assert.ok(errV <= 1e-6, `v: max relative error ${errV}`);
    // First moments can cancel to ~0, so measure their error on the scale Adam uses them: m / sqrt(v).
    Object.values(state.m).forEach((m, i) =>
      m.forEach((x, j) => {
        const e = Math.abs(x - ref[i].m[j]) / Math.sqrt(ref[i].v[j]);
        assert.ok(e <= 1e-6, `m[${i}][${j}]: error ${e} relative to sqrt(v)`);
      }),
    );
  });
}

test('the reference comparison is sharp enough to catch eps placement, decay order and missing bias correction', async () => {
  // Large lr, eps and weight decay, and small gradients, so that each way of getting AdamW wrong moves the
  // parameters by far more than the 1e-6 tolerance. With torch's own hyperparameters (eps 1e-8) the eps
  // placement would be invisible, which is why this case exists.
  const c: Case = {
    shapes: SHAPES,
    gradScales: [1e-3, 2e-3, 5e-4, 1e-3],
    steps: 20,
    lr: () => 0.02,
    hyper: { beta1: 0.9, beta2: 0.999, eps: 1e-3, weightDecay: 0.1 },
    seed: 99,
  };
  const right = await runBoth(c);
  const errRight = maxRelErr(right.got, right.ref.map((s) => s.p));
  assert.ok(errRight <= 1e-6, `torch reference: max relative error ${errRight}`);
  for (const wrong of ['epsOutsideCorrection', 'decayAfterUpdate', 'noBiasCorrection'] as const) {
    const w = await runBoth(c, wrong);
    const err = maxRelErr(w.got, w.ref.map((s) => s.p));
    assert.ok(err > 1e-5, `${wrong}: implementation should differ from this wrong reference, error only ${err}`);
  }
});

test('AdamW: hand-worked first step (t=1: update = lr * g / (|g| + eps))', async () => {
  // At t=1: m = (1-b1) g, v = (1-b2) g^2, bias corrections 1-b1 and 1-b2, so
  // step_size * m / denom = lr/(1-b1) * (1-b1) g / (sqrt((1-b2) g^2)/sqrt(1-b2) + eps) = lr * g / (|g| + eps).
  // Decay first: p * (1 - lr*wd). With lr 0.1, wd 0.01 the factor is 0.999.
  // eps = 0.5 makes eps visible:
  //   p=1,   g=0.5   -> 0.999  - 0.1*0.5/1.0    = 0.949
  //   p=-2,  g=-0.25 -> -1.998 + 0.1*0.25/0.75  = -1.9646666…
  //   p=0.5, g=0     -> 0.4995 - 0               = 0.4995
  const p = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const opt = new AdamW(new Map([['b', p]]), { lr: 0.1, eps: 0.5, weightDecay: 0.01 });
  const g = tf.tensor1d([0.5, -0.25, 0]);
  opt.step(new Map([['b', g]]), 0.1);
  const got = Array.from(await p.data());
  const want = [0.949, -1.998 + 0.025 / 0.75, 0.4995];
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) <= 1e-6 * Math.abs(want[i]), `p[${i}] = ${x}, want ${want[i]}`));
  const s = await opt.stateDict();
  assert.deepEqual(Array.from(s.m.b), f32([0.05, -0.025, 0]));
  assert.deepEqual(Array.from(s.v.b), [Math.fround(Math.fround(0.5 * Math.fround(0.001)) * 0.5), Math.fround(Math.fround(-0.25 * Math.fround(0.001)) * -0.25), 0]);
  assert.equal(g.isDisposed, false, 'step must not dispose the gradients');
  opt.dispose();
  p.dispose();
  g.dispose();
});

test('AdamW: with torch default eps the first step moves every entry by about lr, whatever the gradient size', async () => {
  // update = lr * g / (|g| + 1e-8) ≈ lr * sign(g): the classic Adam property at t=1, wd=0. For g = -1e-3
  // eps still shows: 1e-3 * 1e-3 / (1e-3 + 1e-8) = 9.99990000099999e-4.
  const p = tf.variable(tf.tensor1d([0, 0, 0]));
  const opt = new AdamW(new Map([['b', p]]), { lr: 1e-3, weightDecay: 0 });
  const g = tf.tensor1d([100, -1e-3, 7]);
  opt.step(new Map([['b', g]]), 1e-3);
  const got = Array.from(await p.data());
  [-9.9999999990000e-4, 9.99990000099999e-4, -9.9999999857143e-4].forEach((w, i) =>
    assert.ok(Math.abs(got[i] - w) <= 1e-6 * 1e-3, `p[${i}] = ${got[i]}, want ${w}`),
  );
  opt.dispose();
  p.dispose();
  g.dispose();
});

test('AdamW: noDecay exempts names from weight decay only', async () => {
  const a = tf.variable(tf.tensor1d([2, -2]));
  const b = tf.variable(tf.tensor1d([2, -2]));
  const opt = new AdamW(
    new Map([
      ['a.bias', a],
      ['b.weight', b],
    ]),
    { lr: 0.1, weightDecay: 0.5, noDecay: (n) => n.endsWith('bias') },
  );
  // Zero gradients: the Adam part is exactly 0/(0+eps) = 0, so only decay can move a parameter.
  const zeros = new Map([
    ['a.bias', tf.zeros([2])],
    ['b.weight', tf.zeros([2])],
  ]);
  opt.step(zeros, 0.1);
  assert.deepEqual(Array.from(await a.data()), [2, -2]);
  assert.deepEqual(Array.from(await b.data()), f32([2 * 0.95, -2 * 0.95]));
  zeros.forEach((t) => t.dispose());
  opt.dispose();
  a.dispose();
  b.dispose();
});

test('AdamW: state only for given variables, no tensor leak across steps, dispose frees the state', async () => {
  const frozen = tf.variable(tf.ones([50, 50]), false); // a frozen weight: never handed to the optimizer
  const p1 = tf.variable(tf.ones([4]));
  const p2 = tf.variable(tf.ones([2, 3]));
  const before = tf.memory().numTensors;
  const beforeBytes = tf.memory().numBytes;
  const opt = new AdamW(
    new Map([
      ['x', p1],
      ['y', p2],
    ]),
    { lr: 1e-3, weightDecay: 0.01 },
  );
  // Exactly m and v for the two trainable tensors' 4 + 6 values (laid end to end), nothing for the frozen one.
  assert.equal(tf.memory().numBytes - beforeBytes, 2 * 4 * (4 + 6));
  const afterInit = tf.memory().numTensors;
  const grads = new Map([
    ['x', tf.fill([4], 0.3)],
    ['y', tf.fill([2, 3], -0.2)],
  ]);
  const withGrads = tf.memory().numTensors;
  for (let k = 0; k < 10; k++) {
    opt.step(grads, 1e-3);
    assert.equal(tf.memory().numTensors, withGrads, `tensor count changed at step ${k + 1}`);
  }
  assert.equal(opt.stepCount, 10);
  await opt.stateDict();
  assert.equal(tf.memory().numTensors, withGrads, 'stateDict leaked');
  grads.forEach((g) => g.dispose());
  assert.equal(tf.memory().numTensors, afterInit);
  opt.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(Array.from(await frozen.data()).slice(0, 3), [1, 1, 1]);
  [frozen, p1, p2].forEach((v) => v.dispose());
});

test('AdamW: stateDict / loadStateDict resume gives bit-identical parameters', async () => {
  const r = rng(7);
  const init = f32(Array.from({ length: 10 }, () => gaussian(r)));
  const grads = Array.from({ length: 8 }, () => tf.tensor1d(f32(Array.from({ length: 10 }, () => gaussian(r)))));
  const a = tf.variable(tf.tensor1d(init));
  const optA = new AdamW(new Map([['w', a]]), { lr: 1e-2, weightDecay: 0.01 });
  for (let k = 0; k < 4; k++) optA.step(new Map([['w', grads[k]]]), 1e-2);
  const saved = await optA.stateDict();
  const b = tf.variable(a.clone());
  const optB = new AdamW(new Map([['w', b]]), { lr: 1e-2, weightDecay: 0.01 });
  optB.loadStateDict(saved);
  saved.m.w.fill(123); // the optimizer must have copied the arrays in
  assert.equal(optB.stepCount, 4);
  for (let k = 4; k < 8; k++) {
    optA.step(new Map([['w', grads[k]]]), 1e-2);
    optB.step(new Map([['w', grads[k]]]), 1e-2);
  }
  assert.deepEqual(Array.from(await b.data()), Array.from(await a.data()));
  // A state for other parameters is refused and leaves the optimizer as it was.
  const foreign = { step: 3, m: { other: new Float32Array(10) }, v: { other: new Float32Array(10) } };
  assert.throws(() => optB.loadStateDict(foreign), (e: unknown) => e instanceof PeftStudioError && e.code === 'WEIGHTS_MISMATCH');
  const short = { step: 3, m: { w: new Float32Array(9) }, v: { w: new Float32Array(10) } };
  assert.throws(() => optB.loadStateDict(short), (e: unknown) => e instanceof PeftStudioError && e.code === 'WEIGHTS_MISMATCH');
  assert.equal(optB.stepCount, 8);
  grads.forEach((g) => g.dispose());
  [optA, optB].forEach((o) => o.dispose());
  [a, b].forEach((v) => v.dispose());
});

test('AdamW: rejects bad hyperparameters and mismatched gradients', () => {
  const p = tf.variable(tf.zeros([3]));
  const params = new Map([['w', p]]);
  const isBadInput = (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT';
  assert.throws(() => new AdamW(params, { lr: -1 }), isBadInput);
  assert.throws(() => new AdamW(params, { lr: 1e-3, betas: [1, 0.999] }), isBadInput);
  assert.throws(() => new AdamW(params, { lr: 1e-3, eps: -1 }), isBadInput);
  assert.throws(() => new AdamW(params, { lr: 1e-3, weightDecay: -0.1 }), isBadInput);
  const opt = new AdamW(params, { lr: 1e-3 });
  const isTraining = (e: unknown) => e instanceof PeftStudioError && e.code === 'TRAINING';
  const g = tf.zeros([3]);
  const wrongShape = tf.zeros([4]);
  assert.throws(() => opt.step(new Map(), 1e-3), isTraining);
  assert.throws(() => opt.step(new Map([['w', wrongShape]]), 1e-3), isTraining);
  assert.throws(() => opt.step(new Map([['w', g], ['frozen', g]]), 1e-3), isTraining);
  assert.throws(() => opt.step(new Map([['w', g]]), NaN), isBadInput);
  assert.equal(opt.stepCount, 0, 'a refused step must not count');
  [g, wrongShape].forEach((t) => t.dispose());
  opt.dispose();
  p.dispose();
});

/** The per-tensor update, op for op as torch's _single_tensor_adamw: what every bucket must reproduce bit for bit. */
function perTensorStep(p: tf.Variable, m: tf.Variable, v: tf.Variable, g: tf.Tensor, t: number, lr: number, wd: number, decay: boolean): void {
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  tf.tidy(() => {
    let x: tf.Tensor = decay ? tf.mul(p, tf.scalar(1 - lr * wd)) : p;
    const m1 = tf.add(tf.mul(m, tf.scalar(beta1)), tf.mul(g, tf.scalar(1 - beta1)));
    const v1 = tf.add(tf.mul(v, tf.scalar(beta2)), tf.mul(tf.mul(g, tf.scalar(1 - beta2)), g));
    const denom = tf.add(tf.div(tf.sqrt(v1), tf.scalar(Math.sqrt(1 - beta2 ** t))), tf.scalar(eps));
    x = tf.add(x, tf.div(tf.mul(tf.scalar(-lr / (1 - beta1 ** t)), m1), denom));
    m.assign(m1);
    v.assign(v1);
    p.assign(x);
  });
}

test('AdamW over several buckets, mixed weight decay: bit-identical to the per-tensor update, and state round-trips', async () => {
  // Sizes that fill three buckets (BUCKET_FLOATS each at most), small and large tensors mixed.
  const shapes = [[7], [BUCKET_FLOATS - 3], [2, 3], [BUCKET_FLOATS + 5], [11], [4, 4]];
  const r = rng(5);
  const names = shapes.map((_, i) => (i % 2 ? `l${i}.bias` : `l${i}.weight`));
  const init = shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => r() - 0.5));
  const vars = new Map(names.map((n, i) => [n, tf.variable(tf.tensor(init[i]!, shapes[i]))] as const));
  const refs = names.map((_, i) => ({ p: tf.variable(tf.tensor(init[i]!, shapes[i])), m: tf.variable(tf.zeros(shapes[i]!)), v: tf.variable(tf.zeros(shapes[i]!)) }));
  const noDecay = (n: string) => n.endsWith('.bias');
  const opt = new AdamW(vars, { lr: 0.01, weightDecay: 0.1, noDecay });
  for (let t = 1; t <= 3; t++) {
    const grads = new Map(names.map((n, i) => [n, tf.tensor(Float32Array.from({ length: init[i]!.length }, () => r() * 2 - 1), shapes[i])] as const));
    const lr = 0.01 / t;
    opt.step(grads, lr);
    names.forEach((n, i) => perTensorStep(refs[i]!.p, refs[i]!.m, refs[i]!.v, grads.get(n)!, t, lr, 0.1, !noDecay(n)));
    grads.forEach((g) => g.dispose());
  }
  const state = await opt.stateDict();
  for (const [i, n] of names.entries()) {
    assert.deepEqual(await vars.get(n)!.data(), await refs[i]!.p.data(), `${n}: parameters`);
    assert.deepEqual(state.m[n], await refs[i]!.m.data(), `${n}: m`);
    assert.deepEqual(state.v[n], await refs[i]!.v.data(), `${n}: v`);
  }
  // A fresh optimizer loaded from that state takes the same next step as the original.
  const copies = new Map(names.map((n) => [n, tf.variable(vars.get(n)!.clone())] as const));
  const resumed = new AdamW(copies, { lr: 0.01, weightDecay: 0.1, noDecay });
  resumed.loadStateDict(state);
  const g = new Map(names.map((n, i) => [n, tf.fill(shapes[i]!, 0.25)] as const));
  opt.step(g, 0.003);
  resumed.step(g, 0.003);
  for (const n of names) assert.deepEqual(await copies.get(n)!.data(), await vars.get(n)!.data(), `${n}: resumed step`);
  g.forEach((x) => x.dispose());
  opt.dispose();
  resumed.dispose();
  [...vars.values(), ...copies.values(), ...refs.flatMap((x) => [x.p, x.m, x.v])].forEach((x) => x.dispose());
});
