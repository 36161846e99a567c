/**
 * A study in the front ends: the notebook `study:` cell's output and the study tab show the same
 * `StudyOutput` — progress while the study runs (runs done of total, the current run and its step,
 * failures) and the report (`report.json`, written by the engine's report.ts from the run folders: the
 * per-method table, the charts' series, the what-moved grids). Nothing here recomputes the report.
 *
 * Messages of the study tab (host ↔ webview), GitLens-style: the webview says `study/ready`, the host
 * answers with `study/didChangeState` (the whole output; it is small) and again whenever it changes.
 * Shared by the host and the webviews; no vscode, no DOM.
 */
import type { StudyReportModel } from '../engine/study/report-model';

export type { StudyChart, StudyChartSeries, StudyGrid, StudyReportModel, StudyReportRow } from '../engine/study/report-model';

export const STUDY_MIME = 'application/vnd.peft-studio.study+json';
export const STUDY_PROTOCOL_VERSION = 1 as const;

export type StudyStatus = 'starting' | 'running' | 'finished' | 'stopped' | 'failed';

export interface StudyOutput {
  v: 1;
  kind: 'study';
  name: string;
  /** The study folder (report.md, results.csv, runs/<id>/). */
  dir: string;
  status: StudyStatus;
  /** Runs in the study, and those finished (in earlier sessions too: a rerun resumes). */
  total: number;
  done: number;
  /** The run training now. */
  current?: { id: string; index: number; step: number; totalSteps?: number; resume: boolean };
  /** Runs that failed in this session, with the first line of why. */
  failures: Array<{ id: string; reason: string }>;
  /** Why the study itself could not run (a bad study, a CLI that exited early). */
  error?: string;
  report?: StudyReportModel;
}

export type StudyToHost = { v: 1; kind: 'study/ready' } | { v: 1; kind: 'study/openReportFile'; file: 'report.md' | 'results.csv' };
export type HostToStudy = { v: 1; kind: 'study/didChangeState'; state: StudyOutput };

/** The study's progress as one line: "4/9 runs · method-lora__seed-1 step 12/20 · 1 failed". */
export function studyProgressText(o: Pick<StudyOutput, 'status' | 'total' | 'done' | 'current' | 'failures'>): string {
  const parts = [`${o.done}/${o.total} runs`];
  if (o.status === 'running' && o.current) parts.push(`${o.current.id}${o.current.resume ? ' (resumed)' : ''} step ${o.current.step}${o.current.totalSteps ? `/${o.current.totalSteps}` : ''}`);
  if (o.failures.length) parts.push(`${o.failures.length} failed`);
  return parts.join(' · ');
}
