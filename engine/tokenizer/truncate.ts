/**
 * Slow HF `PreTrainedTokenizerBase.truncate_sequences(strategy='longest_first')`, the reference our fixtures
 * come from. For a pair it removes one token at a time from the end of the longer sequence, and from the
 * *second* one on a tie (`if len(ids) > len(pair_ids): ids = ids[:-1] else: pair_ids = pair_ids[:-1]`).
 * The Rust/JS fast tokenizers split the budget in one step and can end one token different on ties, so we
 * do not use theirs.
 */

/** New lengths of the two sequences after removing `toRemove` tokens (lenB null: single sequence). */
export function longestFirstLengths(lenA: number, lenB: number | null, toRemove: number): [number, number | null] {
  if (toRemove <= 0) return [lenA, lenB];
  if (lenB === null) return [Math.max(0, lenA - toRemove), null];
  let a = lenA;
  let b = lenB;
  // Closed form of the one-at-a-time loop: first shave the longer down to the shorter…
  if (a > b) {
    const d = Math.min(a - b, toRemove);
    a -= d;
    toRemove -= d;
  } else if (b > a) {
    const d = Math.min(b - a, toRemove);
    b -= d;
    toRemove -= d;
  }
  // …then, equal, alternate starting with the second (tie goes to B), so B ends the shorter when odd.
  const fromB = Math.ceil(toRemove / 2);
  const fromA = toRemove - fromB;
  a = Math.max(0, a - fromA);
  b = Math.max(0, b - fromB);
  return [a, b];
}
