import { parseSettings } from '../settings';
import type { MethodSpec, PeftMethodFactory } from '../types';
import { RANDOM_SUBSET_INFO } from './info';
import { RandomSubset } from './method';

export { RandomSubset, sampleDistinct, RANDOM_SUBSET_MEASURE } from './method';
export { RANDOM_SUBSET_INFO } from './info';

export const randomSubset: PeftMethodFactory<MethodSpec> = {
  info: RANDOM_SUBSET_INFO,
  parseSpec: (raw) => parseSettings(RANDOM_SUBSET_INFO, raw),
  create: (spec) => new RandomSubset(spec),
};
