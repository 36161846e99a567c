/**
 * Asserts that `fn` throws a PeftStudioError with `code` whose message matches every pattern (a RegExp, or a
 * string that must appear verbatim, e.g. the file at fault). Returns the error for further checks.
 */
import assert from 'node:assert/strict';
import { PeftStudioError, type ErrorCode } from '../../engine/errors';

export function expectError(fn: () => unknown, code: ErrorCode, ...patterns: Array<RegExp | string>): PeftStudioError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PeftStudioError, `expected a PeftStudioError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(caught.message.includes(p), `message should name "${p}": ${caught.message}`);
    else assert.match(caught.message, p);
  }
  return caught;
}
