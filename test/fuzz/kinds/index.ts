/** Every fuzz kind, in the order the suite runs them (cheap in-memory parsers first, whole folders last). */
import type { FuzzKind } from '../harness';
import { adapterKind } from './adapters';
import { cliKind } from './cli';
import { configKind } from './config';
import { datasetKind } from './datasets';
import { modelFolderKind } from './model-folder';
import { notebookKind, runConfigKind } from './run-config';
import { tokenizerKind } from './tokenizer';
import { safetensorsKind, torchKind } from './weights';

export const KINDS: FuzzKind[] = [
  safetensorsKind,
  torchKind,
  configKind,
  runConfigKind,
  notebookKind,
  tokenizerKind,
  datasetKind('tsv', 600),
  datasetKind('csv', 600),
  datasetKind('jsonl', 600),
  datasetKind('parquet', 500),
  adapterKind,
  modelFolderKind,
  cliKind,
];
