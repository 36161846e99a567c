import { PeftStudioError } from '../../errors';
import type { PeftMethodFactory } from '../types';
import { DEFAULT_BITFIT, type BitFitConfig } from './config';
import { BitFit } from './method';

export { BitFit } from './method';
export * from './config';

export const bitfit: PeftMethodFactory<BitFitConfig> = {
  name: 'bitfit',
  parseConfig(raw: unknown): BitFitConfig {
    const r = (raw ?? {}) as Partial<BitFitConfig>;
    const biasTerms = r.biasTerms ?? DEFAULT_BITFIT.biasTerms;
    if (!Array.isArray(biasTerms) || biasTerms.length === 0 || biasTerms.some((t) => typeof t !== 'string' || !t)) {
      throw new PeftStudioError('BAD_INPUT', 'bitfit.biasTerms must be a non-empty list of groups, globs or /regex/');
    }
    const trainHead = r.trainHead ?? DEFAULT_BITFIT.trainHead;
    if (typeof trainHead !== 'boolean') throw new PeftStudioError('BAD_INPUT', 'bitfit.trainHead must be true or false');
    return { biasTerms, trainHead };
  },
  create: (config) => new BitFit(config),
};
