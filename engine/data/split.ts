/**
 * A held-out evaluation split for users who bring one file. Seeded, so "eval on 10%" is the same 10% on
 * every run and every machine; both halves keep file order (epoch shuffling is the trainer's job).
 */
import { PeftStudioError } from '../errors';
import { deriveSeed, mulberry32, range, shuffleInPlace, type Rng } from './rng';
import type { Dataset } from './types';

export interface SplitOptions {
  /** Share of examples held out, in (0, 1); rounded to a whole count, at least one example each side. */
  evalFraction: number;
  seed: number;
  /** Keep each class's share the same in both halves (classification only). */
  stratify?: boolean;
}

/** Salt so the split's random stream differs from the epoch shuffles seeded with the same user seed. */
const SPLIT_STREAM = 0x5b1_17;

/**
 * Both halves share the dataset's label maps and columns. `badRows` belong to the file, not to a half:
 * report them from `ds`; the halves carry none.
 */
export function splitDataset<L>(ds: Dataset<L>, opts: SplitOptions): { train: Dataset<L>; eval: Dataset<L> } {
  const n = ds.examples.length;
  const { evalFraction: f } = opts;
  if (!(f > 0 && f < 1)) throw new PeftStudioError('BAD_INPUT', `evalFraction must be between 0 and 1, got ${f}`);
  const nEval = Math.round(f * n);
  if (nEval < 1 || nEval > n - 1)
    throw new PeftStudioError('BAD_INPUT', `cannot hold out ${f} of ${n} examples: each side needs at least one`);
  const rng = mulberry32(deriveSeed(opts.seed, SPLIT_STREAM));
  const evalIdx = opts.stratify ? stratifiedPick(ds, nEval, rng) : shuffleInPlace(range(n), rng).slice(0, nEval);

  const isEval = new Uint8Array(n);
  for (const i of evalIdx) isEval[i] = 1;
  const half = (want: number): Dataset<L> => ({
    ...ds,
    examples: ds.examples.filter((_, i) => isEval[i] === want),
    badRows: [],
  });
  return { train: half(0), eval: half(1) };
}

/**
 * Each class gives floor(f × its size) examples; the few left to reach nEval go to the classes with the
 * largest remainders (largest-remainder apportionment), so the total is exactly nEval.
 */
function stratifiedPick<L>(ds: Dataset<L>, nEval: number, rng: Rng): number[] {
  if (ds.task !== 'classification')
    throw new PeftStudioError('BAD_INPUT', `stratify needs a classification dataset, ${ds.file} is '${ds.task}'`);
  const byClass = new Map<number, number[]>();
  ds.examples.forEach((e, i) => {
    if (typeof e.label !== 'number')
      throw new PeftStudioError('BAD_INPUT', `stratify needs labels, ${ds.file}:${e.line} has none`);
    const group = byClass.get(e.label) ?? [];
    group.push(i);
    byClass.set(e.label, group);
  });
  const classes = [...byClass.keys()].sort((a, b) => a - b); // a fixed order, so the rng draws are stable
  const f = nEval / ds.examples.length;
  const exact = classes.map((c) => f * byClass.get(c)!.length);
  const quota = exact.map(Math.floor);
  let left = nEval - quota.reduce((a, b) => a + b, 0);
  const byRemainder = classes.map((_, k) => k).sort((a, b) => exact[b] - quota[b] - (exact[a] - quota[a]) || a - b);
  for (const k of byRemainder) {
    if (left === 0) break;
    quota[k]++;
    left--;
  }
  return classes.flatMap((c, k) => shuffleInPlace([...byClass.get(c)!], rng).slice(0, quota[k]));
}
