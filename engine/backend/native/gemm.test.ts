/**
 * The addon's GEMM against a float64 reference: every transpose combination, batch strides and broadcast,
 * sizes that are not multiples of the 6 × 16 register block or the 144 / 256 / 256 cache blocks, bias and
 * each fused activation, on both kernels (AVX2 where the CPU has it, and the portable one) and with more
 * threads than tiles. Without the addon these tests skip locally and fail under CI, which builds it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadAddon, type NativeAddon } from './addon';
import { requireAddon, rng } from './test-support';

const load = loadAddon();
const skip = requireAddon(load);
const addon = load.addon as NativeAddon;

interface Case {
  batch?: number;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  /** Which operand is one matrix shared by the batch. */
  broadcast?: 'a' | 'b';
  bias?: boolean;
  act?: number;
  alpha?: number;
}

const ACT_F64 = [
  (x: number) => x,
  (x: number) => Math.max(x, 0),
  (x: number) => Math.min(Math.max(x, 0), 6),
  (x: number, alpha: number) => (x < 0 ? alpha * x : x),
  (x: number) => 1 / (1 + Math.exp(-x)),
  (x: number) => (x < 0 ? Math.expm1(x) : x),
];

/**
 * Runs one case through the addon (all operands in one ArrayBuffer at odd offsets, as tensors sit in the
 * wasm heap) and checks every element against float64: |C − R| ≤ 4·k·ε·Σ|a·b| + 1e-30, the standard bound
 * for a float32 dot product of length k (ε = 2⁻²⁴), so a wrong element, index or stride cannot pass.
 */
function check(c: Case, seed = 1): void {
  const { m, n, k, batch = 1 } = c;
  const batchA = c.broadcast === 'a' ? 1 : batch;
  const batchB = c.broadcast === 'b' ? 1 : batch;
  const r = rng(seed);
  const sizes = [batchA * m * k, batchB * k * n, batch * m * n, n];
  const pad = 3; // floats between operands, so no operand starts at an aligned address
  const offs: number[] = [];
  let at = pad;
  for (const s of sizes) offs.push(at), (at += s + pad);
  const heap = new Float32Array(at);
  heap.fill(Number.NaN); // anything the GEMM should have written but did not shows up as NaN
  const [aO, bO, cO, biasO] = offs as [number, number, number, number];
  for (let i = 0; i < sizes[0]!; i++) heap[aO + i] = r();
  for (let i = 0; i < sizes[1]!; i++) heap[bO + i] = r();
  for (let i = 0; i < n; i++) heap[biasO + i] = r();
  const act = c.act ?? 0;
  const alpha = c.alpha ?? 0.2;
  addon.gemm(heap.buffer, 4 * aO, 4 * bO, 4 * cO, batch, m, n, k, batchA === 1 ? 0 : m * k, batchB === 1 ? 0 : k * n, !!c.transA, !!c.transB, c.bias ? 4 * biasO : -1, act, alpha);
  const eps = 2 ** -24;
  for (let bi = 0; bi < batch; bi++) {
    const a0 = aO + (batchA === 1 ? 0 : bi * m * k);
    const b0 = bO + (batchB === 1 ? 0 : bi * k * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        let abs = 0;
        for (let p = 0; p < k; p++) {
          const x = heap[a0 + (c.transA ? p * m + i : i * k + p)]! * heap[b0 + (c.transB ? j * k + p : p * n + j)]!;
          sum += x;
          abs += Math.abs(x);
        }
        const pre = c.bias ? sum + heap[biasO + j]! : sum;
        const want = ACT_F64[act]!(pre, alpha);
        const got = heap[cO + bi * m * n + i * n + j]!;
        // Activations are 1-Lipschitz (alpha < 1), so the product's error bound carries through them.
        const tol = 4 * (k + 1) * eps * (abs + Math.abs(pre)) + 4 * eps * Math.abs(want) + 1e-30;
        if (!(Math.abs(got - want) <= tol)) {
          assert.fail(`${JSON.stringify(c)}: C[${bi}][${i}][${j}] = ${got}, float64 reference ${want} (tolerance ${tol})`);
        }
      }
    }
  }
  // Nothing outside C was touched: the padding around every operand is still NaN.
  for (const o of offs) assert.ok(Number.isNaN(heap[o - 1]!), `wrote before an operand at ${o}`);
  assert.ok(Number.isNaN(heap[at - 1]!), 'wrote past the last operand');
}

const SIZES = [1, 7, 33, 129];
const FLAGS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe('native GEMM against float64', { skip }, () => {
  const info = skip ? undefined : addon.info();
  const isas = info?.bestIsa === 'avx2' ? (['avx2', 'generic'] as const) : (['generic'] as const);
  after(() => addon.configure(info?.threads || 1));

  for (const isa of isas) {
    it(`${isa}: every (m, n, k) in {1, 7, 33, 129}³ plus k = 300 (two K blocks), all transposes`, () => {
      assert.equal(addon.configure(2, isa).isa, isa);
      for (const [transA, transB] of FLAGS) {
        for (const m of SIZES) for (const n of SIZES) for (const k of [...SIZES, 300]) check({ m, n, k, transA, transB });
      }
    });

    it(`${isa}: tiles split over threads (m, n across the 144 × 256 blocks; 1, 2, 3 and 5 threads)`, () => {
      [1, 2, 3, 5].forEach((threads, i) => {
        addon.configure(threads, isa);
        const [transA, transB] = FLAGS[i]!;
        check({ m: 301, n: 517, k: 259, transA, transB }, threads);
        check({ m: 6, n: 16, k: 4000 }, threads); // a single tile: split into smaller ones, or run on one thread
      });
    });

    it(`${isa}: batches, with either operand broadcast over the batch`, () => {
      addon.configure(3, isa);
      for (const [transA, transB] of FLAGS) {
        for (const broadcast of [undefined, 'a', 'b'] as const) {
          check({ batch: 5, m: 33, n: 17, k: 40, transA, transB, broadcast });
          check({ batch: 8, m: 128, n: 128, k: 64, transA, transB, broadcast }); // BERT attention: [B·H, S, D]
        }
      }
    });

    it(`${isa}: bias and every fused activation`, () => {
      addon.configure(2, isa);
      for (let act = 0; act <= 5; act++) {
        check({ m: 37, n: 45, k: 19, bias: true, act });
        check({ batch: 3, m: 9, n: 300, k: 7, transB: true, act, alpha: 0.1 }); // activation without bias
      }
    });

    it(`${isa}: B packed once and shared by many row tiles, with the bias on the last of two K slices`, () => {
      addon.configure(2, isa);
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          check({ m: 500, n: 77, k: 300, transA, transB, bias: true });
          check({ m: 601, n: 530, k: 40, transA, transB, bias: true, act: 1 }); // several column chunks
          check({ batch: 3, m: 300, n: 33, k: 257, transA, transB, bias: true, broadcast: 'b' });
        }
      }
    });
  }

  it('k = 0 gives zeros (plus bias), and empty outputs write nothing', () => {
    check({ m: 5, n: 9, k: 0 });
    check({ m: 5, n: 9, k: 0, bias: true, act: 1 });
    check({ m: 0, n: 9, k: 3 });
    check({ batch: 0, m: 4, n: 4, k: 4 });
  });

  it('rejects operands that do not fit the buffer instead of reading or writing past it', () => {
    const heap = new ArrayBuffer(4 * 100);
    addon.gemm(heap, 0, 0, 0, 1, 10, 10, 10, 0, 0, false, false, -1, 0, 0); // exactly fits: 100 floats each
    assert.throws(() => addon.gemm(heap, 0, 0, 0, 1, 11, 10, 10, 0, 0, false, false, -1, 0, 0), RangeError); // A and C need 110
    assert.throws(() => addon.gemm(heap, 0, 0, 4, 1, 10, 10, 1, 0, 0, false, false, -1, 0, 0), RangeError); // C at 4 bytes runs 4 past the end
    assert.throws(() => addon.gemm(heap, 2, 0, 0, 1, 2, 2, 2, 0, 0, false, false, -1, 0, 0), RangeError); // misaligned
    assert.throws(() => addon.gemm(heap, 0, 0, 0, 2, 5, 5, 5, 100, 0, false, false, -1, 0, 0), RangeError); // A's batch stride past the end
    assert.throws(() => addon.gemm(heap, 0, 0, 0, 1, 2, 2, 2, 0, 0, false, false, 396, 0, 0), RangeError); // bias of 2 at the last float
    assert.throws(() => addon.gemm(heap, 0, 0, 0, 1, 2, 2, 2, 0, 0, false, false, -1, 9, 0), RangeError); // unknown activation
    assert.throws(() => addon.gemm(heap, 0, 0, 0, 1, 2.5, 2, 2, 0, 0, false, false, -1, 0, 0), TypeError);
    assert.throws(() => (addon.gemm as (...a: unknown[]) => void)(new Float32Array(4), 0), TypeError);
  });
});
