/**
 * Which column is the text, the second text, the label. Users name them when they must; otherwise the
 * common names of GLUE, SuperGLUE and HF datasets are recognised so that those files load with no options.
 */
import { PeftStudioError } from '../errors';
import type { ColumnKey, RawTable } from './table';
import type { ColumnMap, ColumnRef, DatasetOptions } from './types';

/**
 * Known (text, pair) columns. Pairs are tried before single texts: QNLI has `question` and `sentence`,
 * and taking `sentence` alone as the text would silently drop the question.
 */
const PAIRS: [string, string][] = [
  ['sentence1', 'sentence2'], // RTE, STS-B, MNLI, WNLI (GLUE and HF)
  ['#1 String', '#2 String'], // MRPC (GLUE original)
  ['question1', 'question2'], // QQP
  ['premise', 'hypothesis'], // MNLI, SNLI, CB (HF)
  ['question', 'sentence'], // QNLI
  ['question', 'passage'], // BoolQ
  ['text', 'text_pair'],
  ['text1', 'text2'],
];
const TEXTS = ['sentence', 'text', 'review', 'content', 'document', 'tweet', 'utterance', 'comment', 'question', 'input'];
const LABELS = ['label', 'labels', 'Quality', 'gold_label', 'score', 'is_duplicate', 'target', 'class', 'category', 'y'];

export interface ResolvedColumns {
  keys: { text: ColumnKey; textPair?: ColumnKey; label?: ColumnKey };
  /** For the user: names where the file has them, else indices. */
  map: ColumnMap;
}

export function resolveColumns(
  file: string,
  table: RawTable,
  given: DatasetOptions['columns'] = {},
  requireLabels: boolean,
): ResolvedColumns {
  const names = table.columnNames;
  const listing = names ? `columns: ${names.map((n) => `'${n}'`).join(', ')}` : `${table.columnCount} columns, no header`;

  /** An index or name the user gave → the table's key for it. */
  const byRef = (role: string, ref: ColumnRef): ColumnKey => {
    if (typeof ref === 'number') {
      const count = names?.length ?? table.columnCount;
      if (!Number.isInteger(ref) || ref < 0 || ref >= count)
        throw new PeftStudioError('BAD_INPUT', `${role} column ${ref} does not exist in ${file} (${listing})`, file);
      return table.keyedBy === 'index' ? ref : names![ref];
    }
    if (!names)
      throw new PeftStudioError('BAD_INPUT', `${file} has no header: name the ${role} column by its 0-based index`, file);
    const i = findName(names, ref);
    if (i < 0) throw new PeftStudioError('BAD_INPUT', `${role} column '${ref}' not found in ${file} (${listing})`, file);
    return table.keyedBy === 'index' ? i : names[i];
  };
  const keyOf = (i: number): ColumnKey => (table.keyedBy === 'index' ? i : names![i]);
  const shown = (k: ColumnKey): ColumnRef => (typeof k === 'number' && names ? names[k] : k);

  let text = given.text !== undefined ? byRef('text', given.text) : undefined;
  let textPair = given.textPair != null ? byRef('text pair', given.textPair) : undefined;
  let label = given.label != null ? byRef('label', given.label) : undefined;

  if (names) {
    // A pair is detected only when the text column is not given, or is given as the pair's first half
    // (text: 'sentence1' finds 'sentence2'); textPair: null turns detection off.
    if (given.textPair === undefined) {
      for (const [a, b] of PAIRS) {
        const ia = findName(names, a);
        const ib = findName(names, b);
        if (ia < 0 || ib < 0 || (text !== undefined && text !== keyOf(ia))) continue;
        text = keyOf(ia);
        textPair = keyOf(ib);
        break;
      }
    }
    if (text === undefined) {
      const i = TEXTS.map((t) => findName(names, t)).find((j) => j >= 0);
      if (i !== undefined) text = keyOf(i);
    }
    if (given.label === undefined) {
      const i = LABELS.map((l) => findName(names, l)).find((j) => j >= 0);
      if (i !== undefined) label = keyOf(i);
    }
  }

  if (text === undefined) {
    const hint = names ? `none has a usual text name` : `a headerless file needs its columns named by index`;
    throw new PeftStudioError(
      'BAD_INPUT',
      `cannot tell which column of ${file} holds the text (${listing}; ${hint}): pass columns: { text: … }`,
      file,
    );
  }
  if (label === undefined && requireLabels) {
    const why = given.label === null ? 'columns.label is null but labels are required' : 'no label column found';
    throw new PeftStudioError('BAD_INPUT', `${file}: ${why} (${listing}): pass columns: { label: … }`, file);
  }
  return {
    keys: { text, textPair, label },
    map: {
      text: shown(text),
      ...(textPair !== undefined && { textPair: shown(textPair) }),
      ...(label !== undefined && { label: shown(label) }),
    },
  };
}

/** Exact match first, then case-insensitive (users type `Label` for `label`). */
function findName(names: string[], wanted: string): number {
  const exact = names.indexOf(wanted);
  if (exact >= 0) return exact;
  const lower = wanted.toLowerCase();
  return names.findIndex((n) => n.toLowerCase() === lower);
}
