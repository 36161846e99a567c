/** Thin wrapper over node:util parseArgs that turns its errors into usage errors with the command's help. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
import { BACKEND_NAMES, type BackendName } from '../backend/select';

export class UsageError extends Error {}

export function parse<T extends Options>(
  argv: string[],
  options: T,
  help: string,
  positionals = 0,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${help}`);
  }
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(help);
    process.exit(0);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}\n\n${help}`);
  }
  return parsed;
}

export function backendOption(v: unknown): BackendName | 'auto' | undefined {
  if (v === undefined) return undefined;
  if (v === 'auto' || (BACKEND_NAMES as readonly string[]).includes(String(v))) return v as BackendName | 'auto';
  throw new UsageError(`--backend must be one of auto, ${BACKEND_NAMES.join(', ')}`);
}

/** Prints notices the way every command does: on stderr, prefixed, so stdout stays machine-readable. */
export function printNotices(notices: string[]): void {
  for (const n of notices) process.stderr.write(`note: ${n}\n`);
}
