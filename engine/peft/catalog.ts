/**
 * Every method's name, title and settings, without TF.js: what the extension host (New Run, completion),
 * the CLI's help and the run-config schema are built from. The registry (registry.ts) adds the code.
 * A new method adds its `info` here and its factory there.
 */
import { HOULSBY_INFO, PARALLEL_ADAPTER_INFO, PFEIFFER_INFO } from './adapters/config';
import { BITFIT_INFO } from './bitfit/info';
import { FULL_INFO } from './full/info';
import { LORA_INFO } from './lora/config';
import { P_TUNING_INFO, P_TUNING_V2_INFO, PREFIX_TUNING_INFO, PROMPT_TUNING_INFO } from './prompt/config';
import { RANDOM_SUBSET_INFO } from './random-subset/info';
import type { MethodInfo } from './types';

export const METHOD_INFOS: readonly MethodInfo[] = [
  FULL_INFO,
  BITFIT_INFO,
  LORA_INFO,
  HOULSBY_INFO,
  PFEIFFER_INFO,
  PARALLEL_ADAPTER_INFO,
  PROMPT_TUNING_INFO,
  P_TUNING_INFO,
  PREFIX_TUNING_INFO,
  P_TUNING_V2_INFO,
  RANDOM_SUBSET_INFO,
];

export function methodInfo(name: string): MethodInfo | undefined {
  return METHOD_INFOS.find((m) => m.name === name) ?? METHOD_INFOS.find((m) => m.aliases?.includes(name));
}
