/**
 * Batch mode: pick a data file, predict every row with a run's trained model in the predict worker, and
 * write `<name>.predictions.csv` beside it, under a cancellable progress notification. The file is chosen
 * here, in the host, so a path never comes from the webview.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { predictionsPath } from '../../../engine/api/predictions-path';
import type { RunRecord } from '../core/runManager';
import type { PlaygroundDeps } from './panel';
import { PredictError } from './predictClient';

type Notify = (state: 'running' | 'done' | 'cancelled' | 'failed', message: string) => void;

export async function runBatch(deps: PlaygroundDeps, rec: RunRecord, notify: Notify = () => undefined): Promise<void> {
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { Data: ['csv', 'tsv', 'jsonl', 'parquet'] },
    title: `Rows to predict with ${rec.view.label}`,
    openLabel: 'Predict',
  });
  const input = picked?.[0]?.fsPath;
  if (!input) return;
  const out = predictionsPath(input);
  if (fs.existsSync(out)) {
    const ok = await vscode.window.showWarningMessage(`${path.basename(out)} exists. Replace it?`, { modal: true }, 'Replace');
    if (ok !== 'Replace') return;
  }
  await predictWithProgress(deps, rec, input, out, 'fail', notify);
}

async function predictWithProgress(deps: PlaygroundDeps, rec: RunRecord, input: string, out: string, onBadRow: 'fail' | 'skip', notify: Notify): Promise<void> {
  const name = path.basename(input);
  notify('running', `Predicting ${name}…`);
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `PEFT: predicting ${name} with ${rec.view.label}`, cancellable: true },
      (progress, token) => {
        let last = 0;
        const job = deps.client.predictFile(rec.runDir, input, {
          out,
          onBadRow,
          onProgress: (done, total) => {
            // withProgress takes increments: report the share done since the last report.
            const share = total ? (100 * done) / total : 0;
            progress.report({ increment: share - last, message: `${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} rows` });
            last = share;
          },
        });
        token.onCancellationRequested(job.cancel);
        return job.result;
      },
    );
    if (result.cancelled) return notify('cancelled', `Cancelled: nothing was written.`);
    const rate = result.seconds > 0 ? ` (${Math.round(result.rows / result.seconds).toLocaleString('en-US')} rows/s)` : '';
    const skipped = result.skipped.length ? `, ${result.skipped.length} bad rows left out` : '';
    const message = `Wrote ${result.rows.toLocaleString('en-US')} predictions to ${path.basename(result.out)}${skipped}${rate}.`;
    deps.log.info(`playground: ${rec.runId}: ${message} ${result.out}`);
    notify('done', message);
    const action = await vscode.window.showInformationMessage(`PEFT: ${message}`, 'Open', 'Reveal');
    if (action === 'Open') await vscode.window.showTextDocument(vscode.Uri.file(result.out), { preview: false });
    if (action === 'Reveal') void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(result.out));
  } catch (e) {
    const err = e as PredictError;
    deps.log.error(`playground: batch prediction of ${input} failed: ${err.message}`);
    notify('failed', err.message.split('\n')[0] ?? 'failed');
    // Bad rows are listed by file:line; the user may prefer to leave them out rather than fix the file now.
    const canSkip = err.code === 'BAD_DATA' && onBadRow === 'fail' && /bad rows?:/.test(err.message);
    const actions = canSkip ? ['Skip Bad Rows', 'Show Logs'] : ['Show Logs'];
    const action = await vscode.window.showErrorMessage(`PEFT: ${err.message.split('\n').slice(0, 4).join(' ')}`, ...actions);
    if (action === 'Show Logs') deps.log.show();
    if (action === 'Skip Bad Rows') await predictWithProgress(deps, rec, input, out, 'skip', notify);
  }
}
