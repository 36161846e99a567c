/**
 * What a LoRA update ΔW = s·B·A [out, in] does, computed from its factors alone (r ≤ a few dozen), in
 * float64: ‖ΔW‖F, its singular values, and how much each output and input unit moves. ΔW itself is never
 * formed, so a report costs O((in + out)·r²), not O(in·out·r).
 */

export interface LowRankSummary {
  frobenius: number;
  /** Singular values of ΔW, largest first (at most r). */
  singular: number[];
  /** ‖row o of ΔW‖ for each output unit. */
  outNorms: Float64Array;
  /** ‖column j of ΔW‖ for each input unit. */
  inNorms: Float64Array;
}

/** a: A [r, inDim] row-major, b: B [outDim, r] row-major, scale s. */
export function summarizeLowRank(a: Float32Array, b: Float32Array, r: number, inDim: number, outDim: number, scale: number): LowRankSummary {
  const ga = new Float64Array(r * r); // A·Aᵀ
  const gb = new Float64Array(r * r); // Bᵀ·B
  for (let i = 0; i < r; i++)
    for (let j = i; j < r; j++) {
      let s = 0;
      for (let k = 0; k < inDim; k++) s += a[i * inDim + k]! * a[j * inDim + k]!;
      ga[i * r + j] = ga[j * r + i] = s;
      let t = 0;
      for (let o = 0; o < outDim; o++) t += b[o * r + i]! * b[o * r + j]!;
      gb[i * r + j] = gb[j * r + i] = t;
    }
  let f2 = 0;
  for (let i = 0; i < r * r; i++) f2 += ga[i]! * gb[i]!;
  const s2 = scale * scale;
  const outNorms = new Float64Array(outDim);
  for (let o = 0; o < outDim; o++) {
    let q = 0;
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) q += b[o * r + i]! * ga[i * r + j]! * b[o * r + j]!;
    outNorms[o] = Math.sqrt(Math.max(0, q * s2));
  }
  const inNorms = new Float64Array(inDim);
  for (let k = 0; k < inDim; k++) {
    let q = 0;
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) q += a[i * inDim + k]! * gb[i * r + j]! * a[j * inDim + k]!;
    inNorms[k] = Math.sqrt(Math.max(0, q * s2));
  }
  // σ(ΔW)² are the eigenvalues of (BA)ᵀ(BA), whose non-zero ones equal those of S·(BᵀB)·S with S = (AAᵀ)^½.
  const { values, vectors } = symmetricEigen(ga, r);
  const sqrtGa = new Float64Array(r * r);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += vectors[i * r + k]! * Math.sqrt(Math.max(0, values[k]!)) * vectors[j * r + k]!;
      sqrtGa[i * r + j] = s;
    }
  const m = multiply(multiply(sqrtGa, gb, r), sqrtGa, r);
  const singular = [...symmetricEigen(m, r).values].map((v) => Math.sqrt(Math.max(0, v)) * Math.abs(scale)).sort((x, y) => y - x);
  return { frobenius: Math.sqrt(Math.max(0, f2)) * Math.abs(scale), singular, outNorms, inNorms };
}

function multiply(x: Float64Array, y: Float64Array, n: number): Float64Array {
  const z = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const v = x[i * n + k]!;
      if (v === 0) continue;
      for (let j = 0; j < n; j++) z[i * n + j]! += v * y[k * n + j]!;
    }
  return z;
}

/** Cyclic Jacobi eigen-decomposition of a symmetric n × n matrix: values and column eigenvectors. */
export function symmetricEigen(input: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(input);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i]!;
  return { values, vectors: v };
}

/** Indices of the k largest entries, largest first. */
export function topIndices(x: Float64Array, k: number): number[] {
  return Array.from(x.keys())
    .sort((i, j) => x[j]! - x[i]!)
    .slice(0, k);
}
