/**
 * A small seeded PRNG. Math.random cannot be seeded, and a run must be repeatable: the same seed gives the
 * same held-out split, the same epoch order and the same batches on every machine. mulberry32 is tiny,
 * fast, passes the usual statistical batteries well enough for shuffling, and only uses 32-bit integer
 * arithmetic, so its output is identical across JS engines.
 */

/** Returns floats in [0, 1), each with 32 bits of randomness. */
export type Rng = () => number;

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes a seed with further integers (an epoch, a purpose tag) into a new 32-bit seed. Seeding epoch k with
 * `seed + k` would give streams that overlap shifted by one step in mulberry32; hashing each part through
 * a murmur3-style finaliser gives unrelated streams instead.
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = fmix32(seed >>> 0);
  // Hash, then fold the next part in: order matters, so (1, 2) and (2, 1) give different seeds.
  for (const p of parts) h = fmix32(fmix32((h + 0x9e3779b9) >>> 0) ^ (p >>> 0));
  return h;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** An integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Fisher–Yates: every permutation equally likely (up to the PRNG), in place, O(n). Returns `arr`. */
export function shuffleInPlace<T>(arr: T[], rng: Rng): T[] {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = arr[i];
    arr[i] = arr[j];
    arr[j] = tmp;
  }
  return arr;
}

/** [0, 1, …, n-1]. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
