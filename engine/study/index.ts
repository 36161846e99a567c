/** Method studies: one config, many runs (methods × seeds × data sizes …), one report. */
export { expandStudy, loadStudyFile, methodLabel, runId, validateStudyConfig, STUDY_KEYS, type Study, type StudyConfig, type StudyRun } from './config';
export { countStates, runStudy, runState, StudyControl, RUNS_DIR, STUDY_RUN_FILE, type RunState, type StudyEvent, type StudyOptions, type StudyResult } from './runner';
export { collectResults, groupResults, readRun, reportModel, writeReport, type Group, type ReportFiles, type RunResult } from './report';
export { STUDY_REPORT_FILE, type StudyReportModel, type StudyReportRow, type StudyChart, type StudyGrid } from './report-model';
export { trainSubset } from './subset';
export { scratchModel } from './random-init';
