/** The data module's public surface: what the trainer, the CLI and the extension import. */
export type { BadRow, ColumnMap, ColumnRef, Dataset, DatasetFormat, DatasetOptions, Example, Label, Task } from './types';
export { loadDataset, formatBadRow, formatFromExtension } from './load';
export { splitDataset, type SplitOptions } from './split';
export { makeBatches, padBatch, paddedTokens, type BatchOptions, type Encoding, type PaddedBatch } from './batching';
export { deriveSeed, mulberry32, randomInt, range, shuffleInPlace, type Rng } from './rng';
