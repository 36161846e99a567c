import type { MethodInfo } from '../types';

export const RANDOM_SUBSET_INFO: MethodInfo = {
  name: 'random-subset',
  title: 'Random subset',
  description: "train a seeded random subset of single parameters, as many as BitFit's biases: the BitFit paper's control",
  merge: true,
  settings: [
    {
      key: 'size',
      flag: 'subset-size',
      type: 'integer',
      default: null,
      min: 1,
      description: 'How many parameters (single entries, drawn from every tensor but the task head) train; default: as many as BitFit trains with all biases.',
    },
    { key: 'subset_seed', flag: 'subset-seed', type: 'integer', default: null, min: 0, description: "Seed of the random choice; default: the run's seed." },
    { key: 'train_head', flag: 'subset-train-head', type: 'boolean', default: true, description: 'Train the task head too, as BitFit does (its parameters are not part of the subset).' },
  ],
};
