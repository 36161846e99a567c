/** Typed access to the `peftStudio.*` settings, with the defaults declared in package.json. */
import * as path from 'node:path';
import * as vscode from 'vscode';

export interface Settings {
  runsFolder: string;
  backend: string;
  eventThrottleMs: number;
  /** What New Run offers before a method has remembered choices (learning rates are per method: protocol/method.ts). */
  defaults: { epochs: number; batchSize: number; maxLength: number };
}

export function readSettings(context: vscode.ExtensionContext): Settings {
  const c = vscode.workspace.getConfiguration('peftStudio');
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const configured = c.get<string>('runsFolder', '').trim();
  // Relative settings are relative to the workspace; without a workspace, runs live in the extension's storage.
  const base = folder ?? context.globalStorageUri.fsPath;
  const runsFolder = configured ? path.resolve(base, configured) : path.join(base, '.peft-studio', 'runs');
  return {
    runsFolder,
    backend: c.get<string>('backend', 'auto'),
    eventThrottleMs: c.get<number>('eventThrottleMs', 50),
    defaults: {
      epochs: c.get<number>('defaults.numTrainEpochs', 3),
      batchSize: c.get<number>('defaults.perDeviceTrainBatchSize', 16),
      maxLength: c.get<number>('defaults.maxLength', 128),
    },
  };
}
