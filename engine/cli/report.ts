/** How the CLI ends on an error: usage errors exit 2, the engine's own errors 1 with their message; anything else is a bug. */
import { PeftStudioError } from '../errors';
import { UsageError } from './args';

export function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`peft-studio: ${e.message}\n`);
    return 2;
  }
  if (e instanceof PeftStudioError) {
    process.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}
