/**
 * Distillation's loss against a float64 reference written here from the formulas (T², the KL direction
 * KL(teacher ‖ student), MSE for regression, the Bernoulli KL for multi-label, the cosine term), with
 * gradients; the settings refused before any work.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { tf } from '../backend/tf';
import { initBackend } from '../backend/select';
import { PeftStudioError } from '../errors';
import { resolveRunConfig } from '../train/config';
import { pickLayers, resolveDistill } from './config';
import { cosineTerm, distillationTerm } from './objective';

before(async () => {
  await initBackend({ backend: 'cpu' });
});

const rows = (n: number, w: number, seed: number) => Array.from({ length: n }, (_, i) => Array.from({ length: w }, (_, j) => 2 * Math.sin(seed + i * 1.7 + j * 0.9)));

function softmax64(z: number[], T: number): number[] {
  const m = Math.max(...z.map((v) => v / T));
  const e = z.map((v) => Math.exp(v / T - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function rel(a: number[], b: number[]): number {
  let n = 0;
  let d = 0;
  a.forEach((x, i) => {
    n += (x - b[i]!) ** 2;
    d += b[i]! ** 2;
  });
  return Math.sqrt(n / d);
}

async function valueAndGrad(f: (zs: tf.Tensor2D) => tf.Scalar, zs: number[][]): Promise<{ value: number; grad: number[] }> {
  const x = tf.tensor2d(zs);
  const { value, grads } = tf.valueAndGrads((t: tf.Tensor) => f(t as tf.Tensor2D))([x]);
  const out = { value: (await value.data())[0]!, grad: Array.from(await grads[0]!.data()) };
  tf.dispose([x, value, ...grads]);
  return out;
}

describe('distillation loss terms against float64', () => {
  const zs = rows(5, 3, 0.3);
  const zt = rows(5, 3, 2.1);
  for (const T of [1, 2, 4.5]) {
    it(`classification, T = ${T}: T² · KL(p_t ‖ p_s) batch mean, and its gradient T·(p_s − p_t)/B`, async () => {
      let want = 0;
      const grad: number[] = [];
      for (let b = 0; b < zs.length; b++) {
        const ps = softmax64(zs[b]!, T);
        const pt = softmax64(zt[b]!, T);
        want += pt.reduce((a, p, l) => a + p * (Math.log(p) - Math.log(ps[l]!)), 0);
        ps.forEach((p, l) => grad.push((T * (p - pt[l]!)) / zs.length));
      }
      want = (T * T * want) / zs.length;
      const zT = tf.tensor2d(zt);
      const got = await valueAndGrad((x) => distillationTerm(x, zT, 'single_label_classification', T), zs);
      zT.dispose();
      assert.ok(Math.abs(got.value - want) <= 1e-5 * Math.max(1, want), `${got.value} vs ${want}`);
      assert.ok(rel(got.grad, grad) <= 1e-4, `gradient rel ${rel(got.grad, grad)}`);
      // The direction matters: KL(p_s ‖ p_t) is another number.
      let reverse = 0;
      for (let b = 0; b < zs.length; b++) {
        const ps = softmax64(zs[b]!, T);
        const pt = softmax64(zt[b]!, T);
        reverse += ps.reduce((a, p, l) => a + p * (Math.log(p) - Math.log(pt[l]!)), 0);
      }
      assert.ok(Math.abs((T * T * reverse) / zs.length - got.value) > 1e-3, 'indistinguishable from the reversed KL');
    });
  }

  it('is zero when the student equals the teacher, at any temperature', async () => {
    const z = tf.tensor2d(zt);
    const v = (await distillationTerm(z, z, 'single_label_classification', 3).data())[0]!;
    z.dispose();
    assert.ok(Math.abs(v) < 1e-6);
  });

  it('regression: MSE to the teacher (no temperature)', async () => {
    const s = rows(6, 1, 0.5);
    const t = rows(6, 1, 1.5);
    const want = s.reduce((a, r, i) => a + (r[0]! - t[i]![0]!) ** 2, 0) / 6;
    const grad = s.map((r, i) => (2 * (r[0]! - t[i]![0]!)) / 6);
    const tT = tf.tensor2d(t);
    const got = await valueAndGrad((x) => distillationTerm(x, tT, 'regression', 7), s);
    tT.dispose();
    assert.ok(Math.abs(got.value - want) <= 1e-5);
    assert.ok(rel(got.grad, grad) <= 1e-4);
  });

  it('multi-label: T² · mean Bernoulli KL per label', async () => {
    const T = 2;
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    let want = 0;
    const grad: number[] = [];
    zs.forEach((r, b) =>
      r.forEach((z, l) => {
        const ps = sig(z / T);
        const pt = sig(zt[b]![l]! / T);
        want += pt * Math.log(pt / ps) + (1 - pt) * Math.log((1 - pt) / (1 - ps));
        grad.push((T * (ps - pt)) / (zs.length * r.length));
      }),
    );
    want = (T * T * want) / (zs.length * 3);
    const zT = tf.tensor2d(zt);
    const got = await valueAndGrad((x) => distillationTerm(x, zT, 'multi_label_classification', T), zs);
    zT.dispose();
    assert.ok(Math.abs(got.value - want) <= 1e-5, `${got.value} vs ${want}`);
    assert.ok(rel(got.grad, grad) <= 1e-4);
  });

  it('cosine: mean of 1 − cos(h_s, h_t), with its gradient', async () => {
    const hs = rows(4, 6, 0.2);
    const ht = rows(4, 6, 3.3);
    let want = 0;
    const grad: number[] = [];
    hs.forEach((a, i) => {
      const b = ht[i]!;
      const dot = a.reduce((s, x, k) => s + x * b[k]!, 0);
      const na = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
      const nb = Math.sqrt(b.reduce((s, x) => s + x * x, 0));
      want += 1 - dot / (na * nb);
      a.forEach((x, k) => grad.push(-(b[k]! / (na * nb) - (dot * x) / (na ** 3 * nb)) / hs.length));
    });
    want /= hs.length;
    const tT = tf.tensor2d(ht);
    const got = await valueAndGrad((x) => cosineTerm(x, tT), hs);
    tT.dispose();
    assert.ok(Math.abs(got.value - want) <= 1e-5);
    assert.ok(rel(got.grad, grad) <= 1e-4);
  });
});

describe('distillation settings', () => {
  const r = (o: Record<string, unknown>) => resolveDistill({ teacher: 't', ...o }, (p) => `/abs/${p}`);
  for (const [label, o, re] of [
    ['temperature 0', { temperature: 0 }, /temperature must be > 0/],
    ['temperature −1', { temperature: -1 }, /temperature must be > 0/],
    ['all alphas 0', { alpha_kd: 0, alpha_task: 0, alpha_cos: 0 }, /all 0/],
    ['a negative alpha', { alpha_kd: -0.5 }, /alpha_kd must be ≥ 0/],
    ['bad layers', { student_layers: [0, 0] }, /twice/],
    ['layers and a student', { student_layers: 2, student: 's' }, /not both/],
    ['no teacher', { teacher: '' }, /teacher .* is required/],
  ] as const) {
    it(`refuses ${label}`, () => assert.throws(() => r(o), (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && re.test(e.message)));
  }
  it("picks DistilBERT's every other layer", () => {
    assert.deepEqual(pickLayers(6, 12), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(pickLayers(1, 2), [0]);
    assert.deepEqual(pickLayers(3, 4), [0, 2, 3]);
    assert.throws(() => pickLayers(5, 4), /more than the teacher's 4 layers/);
  });
  it('a run config takes `method: {name: distill, …, student_method}` and a `distill` block; the student trains fully by default', () => {
    const a = resolveRunConfig({ train_file: 't', method: { name: 'distill', teacher: 'runs/x', student_layers: 1, student_method: 'lora' } }, '/w');
    assert.equal(a.distill!.teacher, '/w/runs/x');
    assert.equal(a.method.name, 'lora');
    const b = resolveRunConfig({ train_file: 't', distill: { teacher: 'm' } }, '/w');
    assert.equal(b.method.name, 'full');
    assert.equal(b.model, '/w/m', 'no student given: the teacher layers (resolved at run start) — model points at the teacher');
    const c = resolveRunConfig({ model: 'small', train_file: 't', distill: { teacher: 'm' } }, '/w');
    assert.equal(c.distill!.student, '/w/small', 'model is the student when the config gives one');
  });
});
