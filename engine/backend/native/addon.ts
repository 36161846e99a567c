/**
 * Finds and loads the optional native addon (native/, built at install by scripts/build-native.mjs). It is
 * never required: where it did not build, the stock wasm kernels run instead, and `loadAddon` says why.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The addon's N-API surface (native/src/addon.cc). */
export interface NativeAddon {
  /** Sets the worker-thread count (the calling thread included) and kernel; 'avx2' falls back to 'generic' where the CPU lacks it. */
  configure(threads: number, isa?: 'auto' | 'avx2' | 'generic'): NativeInfo;
  info(): NativeInfo;
  /**
   * C[b] = op(A[b])·op(B[b]) (+ bias[n], activation) for b < batch, row-major float32. Offsets are bytes
   * into `heap`, strides are elements between batch items (0 broadcasts one matrix); biasOff < 0: no bias.
   */
  gemm(
    heap: ArrayBuffer,
    aOff: number,
    bOff: number,
    cOff: number,
    batch: number,
    m: number,
    n: number,
    k: number,
    strideA: number,
    strideB: number,
    transA: boolean,
    transB: boolean,
    biasOff: number,
    activation: number,
    alpha: number,
  ): void;
  /** y = x·0.5·(1 + erf(x/√2)) over n floats (byte offsets into `heap`), on all threads. */
  gelu(heap: ArrayBuffer, xOff: number, yOff: number, n: number): void;
  /** dx = dy · d/dx gelu(x) over n floats. */
  geluGrad(heap: ArrayBuffer, xOff: number, dyOff: number, dxOff: number, n: number): void;
  /** out = a + b over n floats. */
  add(heap: ArrayBuffer, aOff: number, bOff: number, outOff: number, n: number): void;
  /** y = x·mask / (1 − p) over n floats, P(drop) = drop24 / 2^24, the mask a hash of (seed, index) (native/src/dropout_hash.h). */
  dropout(heap: ArrayBuffer, xOff: number, yOff: number, n: number, seed: number, drop24: number): void;
  /** x is [rows, cols]; leading: out[c] = Σ_r x[r, c] ([cols]), else out[r] = Σ_c x[r, c] ([rows]). */
  sum(heap: ArrayBuffer, xOff: number, outOff: number, rows: number, cols: number, leading: boolean): void;
  /** x, y are [rows, cols], gamma and beta [cols]: y = (x − mean)·rsqrt(var + eps)·gamma + beta per row. */
  layerNorm(heap: ArrayBuffer, xOff: number, gammaOff: number, betaOff: number, yOff: number, rows: number, cols: number, eps: number): void;
  /**
   * y = softmax(x / divisor + mask) per row of x [rows, cols]; mask [rows / rowsPerMask, cols], row r adding
   * mask row ⌊r / rowsPerMask⌋ (rowsPerMask 0: no mask, maskOff ignored).
   */
  attentionSoftmax(heap: ArrayBuffer, xOff: number, maskOff: number, yOff: number, rows: number, cols: number, rowsPerMask: number, divisor: number): void;
  /** dx = y·(dy − Σ dy·y) / divisor per row: attentionSoftmax's gradient with respect to x. */
  attentionSoftmaxGrad(heap: ArrayBuffer, yOff: number, dyOff: number, dxOff: number, rows: number, cols: number, divisor: number): void;
  /**
   * BERT's self-attention core per (batch item, head) (native/src/attention.h): from qkv [B, T, 3H] (query |
   * key | value) and the extended mask [B, T] (hasMask 0: none, maskOff ignored) to probs [B, heads, T, T]
   * (before dropout) and context [B, T, H]; dropout at drop24 / 2^24 with `seed` (0: none). divideQuery 1:
   * queries are divided by `divisor` before the product and scores are not (DistilBERT).
   */
  attention(heap: ArrayBuffer, qkvOff: number, maskOff: number, probsOff: number, contextOff: number, hasMask: number, divideQuery: number, batch: number, seq: number, heads: number, headDim: number, seed: number, drop24: number, divisor: number): void;
  /** attention's gradient: dqkv [B, T, 3H] from dcontext [B, T, H], the kept probs and qkv. */
  attentionGrad(heap: ArrayBuffer, qkvOff: number, probsOff: number, dContextOff: number, dQkvOff: number, divideQuery: number, batch: number, seq: number, heads: number, headDim: number, seed: number, drop24: number, divisor: number): void;
  /**
   * attention with `prefix` rows of keys | values ([prefix, 2H], shared by the batch) in front of each item's
   * own (prefix tuning): mask [B, prefix + T], probs [B, heads, T, prefix + T].
   */
  attentionPrefix(heap: ArrayBuffer, qkvOff: number, prefixOff: number, maskOff: number, probsOff: number, contextOff: number, hasMask: number, prefix: number, divideQuery: number, batch: number, seq: number, heads: number, headDim: number, seed: number, drop24: number, divisor: number): void;
  /** attentionPrefix's gradient: dqkv [B, T, 3H] and each batch item's prefix gradient dprefix [B, prefix, 2H]. */
  attentionPrefixGrad(heap: ArrayBuffer, qkvOff: number, prefixOff: number, probsOff: number, dContextOff: number, dQkvOff: number, dPrefixOff: number, prefix: number, divideQuery: number, batch: number, seq: number, heads: number, headDim: number, seed: number, drop24: number, divisor: number): void;
  /**
   * GatherV2 along one axis as row copies: for each of `outer` blocks of `dim` rows (rowBytes each) of x, the
   * rows named by the `count` int32 ids at idsOff, into out; an id outside [0, dim) throws a RangeError.
   */
  gatherRows(heap: ArrayBuffer, xOff: number, idsOff: number, outOff: number, outer: number, dim: number, count: number, rowBytes: number): void;
  /** The gradients of layerNorm for upstream dy: dx [rows, cols], dgamma and dbeta [cols]. */
  layerNormGrad(heap: ArrayBuffer, dyOff: number, xOff: number, gammaOff: number, dxOff: number, dgammaOff: number, dbetaOff: number, rows: number, cols: number, eps: number): void;
}

export interface NativeInfo {
  threads: number;
  isa: 'avx2' | 'generic';
  /** The best kernel this CPU can run. */
  bestIsa: 'avx2' | 'generic';
}

export const ADDON_FILE = 'peft_native.node';

/** Every entry point above: an addon built from older sources lacks some, and is not used. */
const ENTRY_POINTS: (keyof NativeAddon)[] = [
  'configure', 'info', 'gemm', 'gelu', 'geluGrad', 'add', 'dropout', 'sum', 'layerNorm', 'layerNormGrad',
  'attentionSoftmax', 'attentionSoftmaxGrad', 'attention', 'attentionGrad', 'attentionPrefix', 'attentionPrefixGrad', 'gatherRows',
];

/** Where the addon can be: beside a bundled dist/worker.js (dist/native/), or in a checkout's build folder. */
export function addonCandidates(): string[] {
  return [path.join(__dirname, 'native', ADDON_FILE), path.resolve(__dirname, '../../../native/build/Release', ADDON_FILE)];
}

export type AddonLoad = { addon: NativeAddon; file: string } | { addon?: undefined; reason: string };

let cached: AddonLoad | undefined;

export function loadAddon(): AddonLoad {
  if (cached) return cached;
  const file = addonCandidates().find((f) => fs.existsSync(f));
  if (!file) {
    cached = { reason: 'native addon not built (run `node scripts/build-native.mjs`; it needs a C++ compiler and Node headers)' };
    return cached;
  }
  try {
    // A computed path: bundlers leave it alone, and the .node file is copied beside the bundle instead.
    const load = (p: string): unknown => require(p);
    const addon = load(file) as NativeAddon;
    const missing = ENTRY_POINTS.filter((name) => typeof addon[name] !== 'function');
    cached = missing.length
      ? { reason: `native addon at ${file} is out of date (no ${missing.join(', ')}): rebuild it with \`node scripts/build-native.mjs\`` }
      : { addon, file };
  } catch (e) {
    cached = { reason: `native addon at ${file} failed to load: ${String((e as Error).message).split('\n')[0]}` };
  }
  return cached;
}
