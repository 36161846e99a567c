import { PeftStudioError } from '../../errors';
import { parseSettings } from '../settings';
import type { PeftMethodFactory } from '../types';
import type { BitFitConfig } from './config';
import { BITFIT_INFO } from './info';
import { BitFit } from './method';

export { BitFit } from './method';
export * from './config';
export { BITFIT_INFO } from './info';

export const bitfit: PeftMethodFactory<{ config: BitFitConfig; spec: ReturnType<typeof parseSettings> }> = {
  info: BITFIT_INFO,
  parseSpec(raw) {
    const spec = parseSettings(BITFIT_INFO, raw);
    const biasTerms = spec.bias_terms as string[];
    if (biasTerms.length === 0 || biasTerms.some((t) => typeof t !== 'string' || !t.trim())) throw new PeftStudioError('BAD_INPUT', 'method bitfit: bias_terms must be a non-empty list of groups, globs or /regex/');
    return { config: { biasTerms: biasTerms.map(String), trainHead: spec.train_head as boolean }, spec };
  },
  create: ({ config, spec }) => new BitFit(config, spec),
};
