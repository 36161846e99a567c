/**
 * The majority-class baseline: the accuracy of always predicting an eval set's most common label. Printed
 * beside a run's accuracy so the number means something (0.62 on a balanced binary set is 12 points above it).
 */
import type { Dataset } from './types';

/** Share of the most common label; undefined unless the set is single-label classification with examples. */
export function majorityShare(data: Pick<Dataset, 'task' | 'examples'> | undefined): number | undefined {
  if (!data || data.task !== 'classification' || !data.examples.length) return undefined;
  const counts = new Map<number, number>();
  for (const e of data.examples) counts.set(e.label as number, (counts.get(e.label as number) ?? 0) + 1);
  return Math.max(...counts.values()) / data.examples.length;
}
