/**
 * `npm run bench:matmul`: GFLOP/s of the matrix products a BERT training step runs, on the stock wasm
 * kernels and on the native addon's (engine/backend/native/), for the benchmark shapes at batch × seq
 * (default 32 × 128). Products are synchronous on wasm, so each timing is the kernel alone.
 *   npm run bench:matmul -- [--shapes BERT-Tiny,BERT-Mini] [--batch 32] [--seq 128] [--min-ms 400]
 */
import { parseArgs } from 'node:util';
import { tf } from '../engine/backend/tf';
import { initBackend } from '../engine/backend/select';
import { installNativeKernels, uninstallNativeKernels } from '../engine/backend/native';
import { SHAPES } from './shapes';

const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: 'BERT-Tiny,BERT-Mini' },
    batch: { type: 'string', default: '32' },
    seq: { type: 'string', default: '128' },
    'min-ms': { type: 'string', default: '400' },
  },
});

interface Product {
  what: string;
  a: number[];
  b: number[];
  transA?: boolean;
  transB?: boolean;
}

/** The products of one step: frozen dense layers (forward and dX), a trained dense layer, and attention. */
function products(hidden: number, heads: number, batch: number, seq: number): Product[] {
  const tokens = batch * seq;
  const inter = 4 * hidden;
  const bh = batch * heads;
  const d = hidden / heads;
  return [
    { what: 'dense Q/K/V/O, x·Wᵀ cached (frozen)', a: [tokens, hidden], b: [hidden, hidden] },
    { what: 'FFN in, x·Wᵀ cached (frozen)', a: [tokens, hidden], b: [hidden, inter] },
    { what: 'FFN out / dX of FFN in, dy·W', a: [tokens, inter], b: [inter, hidden] },
    { what: 'dX of FFN out, dy·W', a: [tokens, hidden], b: [hidden, inter] },
    { what: 'FFN in, x·Wᵀ (trained W)', a: [tokens, hidden], b: [inter, hidden], transB: true },
    { what: 'dW of FFN in, dyᵀ·x (full FT)', a: [tokens, inter], b: [tokens, hidden], transA: true },
    { what: 'attention scores q·kᵀ', a: [bh, seq, d], b: [bh, seq, d], transB: true },
    { what: 'attention p·v, and dq = ds·k', a: [bh, seq, seq], b: [bh, seq, d] },
    { what: 'attention dp = dy·vᵀ', a: [bh, seq, d], b: [bh, seq, d], transB: true },
    { what: 'attention dv = pᵀ·dy, dk = dsᵀ·q', a: [bh, seq, seq], b: [bh, seq, d], transA: true },
  ];
}

function flops(p: Product): number {
  const r = p.a.length;
  const m = p.transA ? p.a[r - 1]! : p.a[r - 2]!;
  const k = p.transA ? p.a[r - 2]! : p.a[r - 1]!;
  const n = p.transB ? p.b[r - 2]! : p.b[r - 1]!;
  return 2 * tf.util.sizeFromShape(p.a.slice(0, -2)) * m * n * k;
}

/** Median ms of one product, repeated for at least `min-ms` (after one warm-up). */
function time(p: Product): number {
  const a = tf.randomNormal(p.a);
  const b = tf.randomNormal(p.b);
  tf.matMul(a, b, p.transA, p.transB).dispose();
  const times: number[] = [];
  const start = performance.now();
  while (performance.now() - start < Number(values['min-ms']) || times.length < 3) {
    const t0 = performance.now();
    const out = tf.matMul(a, b, p.transA, p.transB);
    times.push(performance.now() - t0);
    out.dispose();
  }
  tf.dispose([a, b]);
  return times.sort((x, y) => x - y)[times.length >> 1]!;
}

async function main() {
  await initBackend({ backend: 'wasm' });
  const status = installNativeKernels();
  uninstallNativeKernels();
  const batch = Number(values.batch);
  const seq = Number(values.seq);
  console.log(`matrix products of a BERT step at batch ${batch} × seq ${seq}, float32; median of repeats over ≥ ${values['min-ms']} ms each`);
  console.log(status.active ? `native: ${status.isa} kernel, ${status.threads} threads` : `native: not available (${status.reason})`);
  console.log('| shape | product | A · B | stock wasm ms | stock GFLOP/s | native ms | native GFLOP/s | speed-up |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const shape of values.shapes!.split(',')) {
    const s = SHAPES[shape];
    if (!s) throw new Error(`unknown shape ${shape} (known: ${Object.keys(SHAPES).join(', ')})`);
    for (const p of products(s.hidden, s.heads, batch, seq)) {
      const stockMs = time(p);
      let nativeMs: number | undefined;
      if (status.active) {
        installNativeKernels();
        nativeMs = time(p);
        uninstallNativeKernels();
      }
      const gf = (ms: number) => (flops(p) / ms / 1e6).toFixed(1);
      const dims = `${p.a.join('×')}${p.transA ? 'ᵀ' : ''} · ${p.b.join('×')}${p.transB ? 'ᵀ' : ''}`;
      const native = nativeMs === undefined ? '— | — | —' : `${nativeMs.toFixed(2)} | ${gf(nativeMs)} | ${(stockMs / nativeMs).toFixed(1)}×`;
      console.log(`| ${shape} | ${p.what} | ${dims} | ${stockMs.toFixed(2)} | ${gf(stockMs)} | ${native} |`);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
