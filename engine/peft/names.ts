/** Name rules every method shares; no TF.js here, so the extension host and schema tools can import it. */

/** Task-head parameters: everything of the classification head, weights included. */
export function isHeadParam(name: string): boolean {
  return /^(classifier|pre_classifier)\./.test(name);
}

/** `*` matches within and across dots (names are flat strings); `?` one character. Anchored. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
