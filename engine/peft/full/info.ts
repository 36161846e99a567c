import type { MethodInfo } from '../types';

export const FULL_INFO: MethodInfo = {
  name: 'full',
  title: 'Full fine-tuning',
  description: 'train every weight of the model: the baseline for every PEFT method',
  merge: true,
  settings: [],
};
