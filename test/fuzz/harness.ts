/**
 * The fuzz harness: seeded generators of malformed inputs ("kinds"), each case run against the library API
 * and classified. A case passes when it ends in success (whose result the kind then checks for sense) or in
 * a PeftStudioError whose message names the file at fault. Anything else is an escape: another error type
 * (a crash), an error that names no file, a success that yields nonsense, or a case over the time limit.
 */
import { PeftStudioError } from '../../engine/errors';
import { mulberry32 } from '../../engine/data/rng';

export class Rand {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }
}

/** A success whose result makes no sense: thrown by a kind's checks, reported as an escape. */
export class Nonsense extends Error {}

export function check(ok: boolean, what: string): void {
  if (!ok) throw new Nonsense(what);
}

export interface FuzzCase {
  /** What the generator did, for the report of an escape. */
  label: string;
  /** The file an error must name (when the case reads one). */
  file?: string;
  /** `error`: this input must be refused (a success is an escape). */
  expect?: 'error' | 'any';
  run(): unknown | Promise<unknown>;
}

export interface FuzzKind {
  name: string;
  cases: number;
  /** Called once before the cases (temp folders, base inputs). */
  setup?(): void | Promise<void>;
  make(rand: Rand, index: number): FuzzCase | Promise<FuzzCase>;
  teardown?(): void;
}

export interface Escape {
  kind: string;
  index: number;
  seed: number;
  label: string;
  problem: string;
}

export interface KindResult {
  kind: string;
  cases: number;
  ok: number;
  refused: number;
  escapes: Escape[];
  /** Error codes seen, with counts. */
  codes: Record<string, number>;
  seconds: number;
  slowestMs: number;
}

/** Wall-clock limit of one case; the runner's watchdog ends a case that blocks the event loop for longer. */
export const CASE_LIMIT_MS = 5000;

/** Per-case seed: reproducible from (base seed, kind, index) alone. */
export function caseSeed(base: number, kind: string, index: number): number {
  let h = (base ^ 0x9e3779b9) >>> 0;
  for (const ch of `${kind}#${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export async function runKind(kind: FuzzKind, base: number, onCase?: (index: number) => void): Promise<KindResult> {
  const t0 = performance.now();
  const result: KindResult = { kind: kind.name, cases: 0, ok: 0, refused: 0, escapes: [], codes: {}, seconds: 0, slowestMs: 0 };
  await kind.setup?.();
  try {
    for (let i = 0; i < kind.cases; i++) {
      onCase?.(i);
      const seed = caseSeed(base, kind.name, i);
      const escape = (label: string, problem: string) => result.escapes.push({ kind: kind.name, index: i, seed, label, problem });
      let c: FuzzCase;
      try {
        c = await kind.make(new Rand(seed), i);
      } catch (e) {
        escape('(generator)', `the generator failed: ${(e as Error)?.stack ?? e}`);
        continue;
      }
      result.cases += 1;
      const start = performance.now();
      let outcome: unknown = undefined;
      let threw = false;
      try {
        await c.run();
      } catch (e) {
        threw = true;
        outcome = e;
      }
      const ms = performance.now() - start;
      result.slowestMs = Math.max(result.slowestMs, ms);
      if (ms > CASE_LIMIT_MS) escape(c.label, `took ${Math.round(ms)} ms (limit ${CASE_LIMIT_MS})`);
      if (!threw) {
        if (c.expect === 'error') escape(c.label, 'accepted an input that must be refused');
        else result.ok += 1;
        continue;
      }
      if (outcome instanceof Nonsense) {
        escape(c.label, `succeeded with a wrong result: ${outcome.message}`);
      } else if (outcome instanceof PeftStudioError) {
        result.codes[outcome.code] = (result.codes[outcome.code] ?? 0) + 1;
        if (c.file && !outcome.message.includes(c.file)) escape(c.label, `${outcome.code} does not name ${c.file}: ${outcome.message}`);
        else if (/\n\s+at /.test(outcome.message)) escape(c.label, `message carries a stack trace: ${outcome.message}`);
        else result.refused += 1;
      } else {
        const err = outcome as Error;
        escape(c.label, `${err?.constructor?.name ?? typeof err}: ${err?.message ?? String(err)}\n${(err?.stack ?? '').split('\n').slice(1, 4).join('\n')}`);
      }
    }
  } finally {
    kind.teardown?.();
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
