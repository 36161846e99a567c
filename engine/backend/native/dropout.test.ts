/**
 * The native dropout kernel: its mask is exactly the documented hash of (seed, index) on every kernel this
 * CPU has and every thread count, it drops the requested fraction, its gradient is the same mask on dy,
 * and layers.ts's Dropout uses it (and stock tf.dropout when it is not installed). Without the addon these
 * tests skip locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tf } from '../tf';
import { initBackend } from '../select';
import { Dropout } from '../../model/layers';
import { loadAddon } from './addon';
import { drop24, nativeDropout } from './dropout';
import { installNativeKernels, uninstallNativeKernels } from './index';
import { countAddonCalls, requireAddon, rng } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);
const calls = countAddonCalls(load.addon, ['dropout'] as const);

/** native/src/dropout_hash.h, written again from its comment: the reference the kernel must match bit for bit. */
function triple32(x: number): number {
  x = (x ^ (x >>> 17)) >>> 0;
  x = Math.imul(x, 0xed5ad4bb) >>> 0;
  x = (x ^ (x >>> 11)) >>> 0;
  x = Math.imul(x, 0xac4c1b51) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x31848bab) >>> 0;
  return (x ^ (x >>> 14)) >>> 0;
}
function keeps(seed: number, d24: number, i: number): boolean {
  const key = triple32((seed ^ 0x9e3779b9) >>> 0);
  return triple32((Math.imul(i, 0x9e3779b9) + key) >>> 0) >>> 8 >= d24;
}

describe('native dropout on the wasm backend', { skip }, () => {
  before(async () => {
    await initBackend({ backend: 'wasm', reinit: true });
  });
  after(() => uninstallNativeKernels());

  it('keeps exactly the elements the hash keeps, scaled by 1/(1-p), on every kernel and thread count', () => {
    const addon = load.addon!;
    const n = 100_003; // not a multiple of the vector width or of a task's chunk
    const heap = new ArrayBuffer(8 * n);
    const x = new Float32Array(heap, 0, n);
    const r = rng(3);
    for (let i = 0; i < n; i++) x[i] = r() + 2; // never 0, so a kept element is never mistaken for a dropped one
    const { threads, bestIsa } = addon.info();
    const d24 = drop24(0.1);
    const scale = Math.fround(1 / (1 - d24 / 2 ** 24));
    for (const isa of bestIsa === 'avx2' ? (['avx2', 'generic'] as const) : (['generic'] as const)) {
      for (const t of [1, Math.max(2, threads)]) {
        addon.configure(t, isa);
        const y = new Float32Array(heap, 4 * n, n).fill(NaN);
        addon.dropout(heap, 0, 4 * n, n, 12345, d24);
        let mismatches = 0;
        for (let i = 0; i < n; i++) if (y[i] !== (keeps(12345, d24, i) ? Math.fround(x[i]! * scale) : 0)) mismatches++;
        assert.equal(mismatches, 0, `${isa}, ${t} threads`);
      }
    }
    addon.configure(threads, bestIsa);
  });

  it('drops the requested fraction, and different seeds drop different elements', () => {
    const n = 1_000_000;
    const x = tf.ones([n]);
    for (const p of [0.1, 0.5, 0.9]) {
      const a = nativeDropout(x, p, 1)!.dataSync();
      const b = nativeDropout(x, p, 2)!.dataSync();
      let droppedA = 0;
      let both = 0;
      for (let i = 0; i < n; i++) (droppedA += a[i] === 0 ? 1 : 0), (both += a[i] === 0 && b[i] === 0 ? 1 : 0);
      // Binomial standard deviation √(n p (1−p)) ≤ 500: six of them is 0.003 of n.
      assert.ok(Math.abs(droppedA / n - p) < 0.003, `p=${p}: dropped ${droppedA / n}`);
      // Independent masks overlap in p² of the elements; the same mask would overlap in p.
      assert.ok(Math.abs(both / n - p * p) < 0.003, `p=${p}: overlap ${both / n}`);
    }
    x.dispose();
  });

  it('its gradient is the forward mask applied to dy, with no mask kept', () => {
    const x = tf.tensor(Float32Array.from({ length: 4099 }, (_, i) => 1 + (i % 7)));
    const dy = tf.tensor(Float32Array.from({ length: 4099 }, (_, i) => (i % 5) - 2));
    const before0 = calls.dropout;
    const y = nativeDropout(x, 0.3, 77)!;
    const dx = tf.grad((v: tf.Tensor) => nativeDropout(v, 0.3, 77)!)(x, dy);
    assert.equal(calls.dropout - before0, 3, 'forward, forward under grad, backward');
    const [yv, xv, dyv, dxv] = [y.dataSync(), x.dataSync(), dy.dataSync(), dx.dataSync()];
    const scale = Math.fround(1 / (1 - drop24(0.3) / 2 ** 24));
    for (let i = 0; i < xv.length; i++) assert.equal(dxv[i], yv[i] === 0 ? 0 : Math.fround(dyv[i]! * scale), `element ${i}`);
    tf.dispose([x, dy, y, dx]);
  });

  it('the model Dropout uses it while installed, stock tf.dropout otherwise, each reproducible from its seed', () => {
    const x = tf.ones([64, 128]);
    const masks = () => {
      const d = new Dropout(true, 42);
      return [d.apply(x, 0.1).dataSync().join(), d.apply(x, 0.1).dataSync().join()];
    };
    const before0 = calls.dropout;
    const native = masks();
    assert.equal(calls.dropout - before0, 2);
    assert.deepEqual(masks(), native, 'same seed, same masks');
    assert.notEqual(native[0], native[1], 'each call has its own seed');
    uninstallNativeKernels();
    try {
      const stock = masks();
      assert.equal(calls.dropout - before0, 4, 'stock: the addon is not called');
      assert.deepEqual(masks(), stock);
      assert.notEqual(stock[0], native[0]);
    } finally {
      installNativeKernels();
    }
    // A rate that rounds to dropping everything goes to stock tf.dropout, which the addon would refuse.
    const before1 = calls.dropout;
    assert.equal(nativeDropout(x, 1 - 2 ** -26, 1), undefined);
    assert.equal(calls.dropout, before1);
    // Evaluation and p = 0 leave x as it is.
    assert.equal(new Dropout(false, 42).apply(x, 0.1), x);
    assert.equal(new Dropout(true, 42).apply(x, 0), x);
    x.dispose();
  });
});
