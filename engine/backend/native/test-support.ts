/** Shared by the native tests: whether they can run, and why not. */
import type { AddonLoad, NativeAddon } from './addon';

/**
 * `false` when the addon loaded; otherwise the reason, for node:test's `skip`. Under CI (which builds the
 * addon at `npm ci`) a missing addon is a failure, not a skip: it throws, and the test file fails to load.
 */
export function requireAddon(load: AddonLoad): false | string {
  if (load.addon) return false;
  const ci = process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  if (ci) throw new Error(`CI=${process.env.CI}: the native addon must be built here, but ${load.reason}`);
  return load.reason;
}

/** A seeded generator of values in [-1, 1), so that a failure reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** ‖a − b‖₂ / ‖b‖₂, or ‖a − b‖₂ when b is all zeros (exact-zero gradients must stay zero). */
export function relL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relL2: length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) (num += (a[i]! - b[i]!) ** 2), (den += b[i]! ** 2);
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * Wraps the named addon functions to count the calls that reach native code, so a test can tell a native
 * run from a stock fallback. Returns the live counters.
 */
export function countAddonCalls<K extends keyof NativeAddon>(addon: NativeAddon | undefined, names: readonly K[]): Record<K, number> {
  const calls = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  if (!addon) return calls;
  const fns = addon as unknown as Record<K, (...a: unknown[]) => unknown>;
  for (const name of names) {
    const f = fns[name].bind(addon);
    fns[name] = (...args: unknown[]) => {
      calls[name] += 1;
      return f(...args);
    };
  }
  return calls;
}

/**
 * Runs `body` once per kernel this CPU has (AVX2 and generic, or generic alone) with at least two threads,
 * then restores the addon's own configuration, so a test checks every code path a user could get.
 */
export async function forEachKernel(addon: NativeAddon, body: (isa: 'avx2' | 'generic') => void | Promise<void>): Promise<void> {
  const { threads, bestIsa } = addon.info();
  try {
    for (const isa of bestIsa === 'avx2' ? (['avx2', 'generic'] as const) : (['generic'] as const)) {
      addon.configure(Math.max(2, threads), isa);
      await body(isa);
    }
  } finally {
    addon.configure(threads, bestIsa);
  }
}
