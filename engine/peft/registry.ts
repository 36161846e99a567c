/** Every PEFT method, by name. Adding one is a folder under peft/ plus one line here. */
import { PeftStudioError } from '../errors';
import { bitfit } from './bitfit';
import type { PeftMethod, PeftMethodFactory } from './types';

const METHODS = new Map<string, PeftMethodFactory<unknown>>();

export function registerPeftMethod<C>(factory: PeftMethodFactory<C>): void {
  METHODS.set(factory.name, factory as PeftMethodFactory<unknown>);
}

registerPeftMethod(bitfit);

export function peftMethodNames(): string[] {
  return [...METHODS.keys()];
}

export function createPeftMethod(name: string, rawConfig: unknown): PeftMethod {
  const f = METHODS.get(name);
  if (!f) throw new PeftStudioError('BAD_INPUT', `unknown PEFT method "${name}" (available: ${peftMethodNames().join(', ')})`);
  return f.create(f.parseConfig(rawConfig));
}
