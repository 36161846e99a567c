import type { MethodInfo } from '../types';
import { BIAS_GROUPS } from './config';

export const BITFIT_INFO: MethodInfo = {
  name: 'bitfit',
  title: 'BitFit',
  description: 'train only the bias terms (and the task head): ~0.1% of the parameters',
  merge: true,
  settings: [
    {
      key: 'bias_terms',
      flag: 'bias-terms',
      type: 'list',
      default: ['all'],
      ask: true,
      description: `Bias groups (${Object.keys(BIAS_GROUPS).join(', ')}; the paper's q, k, v, m2 too), globs on HF parameter names (*.layer.1.*.bias) or /regex/.`,
    },
    { key: 'train_head', flag: 'train-head', type: 'boolean', default: true, description: 'Train the classification head with the biases, as the BitFit paper does.' },
  ],
};
