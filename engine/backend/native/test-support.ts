/** Shared by the native tests: whether they can run, and why not. */
import type { AddonLoad } from './addon';

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
