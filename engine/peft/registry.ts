/** Every training method, by name. Adding one is a folder under peft/ plus one line here. */
import { PeftStudioError } from '../errors';
import { houlsby, parallelAdapter, pfeiffer } from './adapters';
import { bitfit } from './bitfit';
import { full } from './full';
import { lora } from './lora';
import { prefixTuning, promptTuning, pTuning, pTuningV2 } from './prompt';
import { randomSubset } from './random-subset';
import type { MethodInfo, MethodSpec, PeftMethod, PeftMethodFactory } from './types';

const METHODS = new Map<string, PeftMethodFactory<unknown>>();

export function registerPeftMethod<C>(factory: PeftMethodFactory<C>): void {
  METHODS.set(factory.info.name, factory as PeftMethodFactory<unknown>);
}

registerPeftMethod(full);
registerPeftMethod(bitfit);
registerPeftMethod(lora);
registerPeftMethod(houlsby);
registerPeftMethod(pfeiffer);
registerPeftMethod(parallelAdapter);
for (const f of [promptTuning, pTuning, prefixTuning, pTuningV2]) registerPeftMethod(f);
registerPeftMethod(randomSubset);

export function peftMethodNames(): string[] {
  return [...METHODS.keys()];
}

export function methodInfos(): MethodInfo[] {
  return [...METHODS.values()].map((f) => f.info);
}

export function methodFactory(name: string): PeftMethodFactory<unknown> {
  const f = METHODS.get(name) ?? [...METHODS.values()].find((m) => m.info.aliases?.includes(name));
  if (!f) throw new PeftStudioError('BAD_INPUT', `unknown method "${name}" (available: ${peftMethodNames().join(', ')})`);
  return f;
}

/** Validates a method spec and fills its defaults (throws BAD_INPUT naming the setting). */
export function resolveMethodSpec(raw: MethodSpec): MethodSpec {
  const f = methodFactory(raw.name);
  const parsed = f.parseSpec(raw) as { spec?: MethodSpec };
  return parsed && typeof parsed === 'object' && 'spec' in parsed && parsed.spec ? parsed.spec : (parsed as unknown as MethodSpec);
}

/**
 * A method from its spec (`{ name: 'lora', r: 8 }`), or from a name and settings; BitFit also takes the
 * camelCase form of its two settings (`{ biasTerms, trainHead }`) that library callers used before specs.
 */
export function createPeftMethod(spec: MethodSpec | string, settings?: Record<string, unknown>): PeftMethod {
  const s: MethodSpec = typeof spec === 'string' ? { ...legacy(settings ?? {}), name: spec } : spec;
  const f = methodFactory(s.name);
  return f.create(f.parseSpec(s));
}

function legacy(o: Record<string, unknown>): Record<string, unknown> {
  const { biasTerms, trainHead, ...rest } = o;
  return { ...rest, ...(biasTerms !== undefined ? { bias_terms: biasTerms } : {}), ...(trainHead !== undefined ? { train_head: trainHead } : {}) };
}

/** The method whose reference-library adapter config this is (HF PEFT's peft_type, AdapterHub's config). */
export function methodForAdapterConfig(config: Record<string, unknown>, file: string): PeftMethodFactory<unknown> {
  for (const f of METHODS.values()) if (f.adapter?.detect(config)) return f;
  const what = typeof config.peft_type === 'string' ? `peft_type ${config.peft_type}` : isObj(config.config) ? `AdapterHub config ${JSON.stringify((config.config as Record<string, unknown>).architecture ?? 'bottleneck')}` : 'no peft_type';
  const readable = [...METHODS.values()].filter((f) => f.adapter).map((f) => f.info.name);
  throw new PeftStudioError('UNSUPPORTED', `${file}: an adapter this version cannot load (${what}); adapters it reads: ${readable.join(', ')}`, file);
}

function isObj(x: unknown): boolean {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
