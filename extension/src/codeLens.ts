/** "▶ Train" above run config files (`*.peft.json`), the way test runners put "Run" above tests. */
import * as vscode from 'vscode';

export const RUN_CONFIG_SELECTOR: vscode.DocumentSelector = [{ language: 'json', pattern: '**/*.peft.json' }, { language: 'jsonc', pattern: '**/*.peft.json' }];

export class TrainCodeLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const top = new vscode.Range(0, 0, 0, 0);
    return [
      new vscode.CodeLens(top, { title: '$(play) Train', command: 'peftStudio.startFromConfig', arguments: [doc.uri], tooltip: 'Start a PEFT run with this config' }),
      new vscode.CodeLens(top, { title: 'Dashboard', command: 'peftStudio.openDashboard' }),
    ];
  }
}
