/**
 * The study tab (bundled to dist/webview/study.js): the study view of one study folder. Handshake: post
 * `study/ready`, the host answers with `study/didChangeState` (the whole output) and again on each change.
 * The last state is kept with setState, so a hidden tab redraws at once and the host's serializer finds the
 * folder after a reload.
 */
import type { HostToStudy, StudyOutput, StudyToHost } from '../../../protocol/study';
import { h } from '../shared/dom';
import { vscodeApi } from '../shared/vscode-api';
import { StudyView } from './view';

interface Persisted {
  v: 1;
  /** Read by the host's serializer to reopen the same study after a reload. */
  dir: string;
  state: StudyOutput;
}

const api = vscodeApi<Persisted>();
// The shared api is typed for the dashboard's messages; this page speaks the study tab's.
const post = (m: StudyToHost) => (api.postMessage as (m: unknown) => void)(m);
const app = document.getElementById('app') ?? document.body.appendChild(h('div', { id: 'app' }));
const view = new StudyView();
for (const file of ['report.md', 'results.csv'] as const) {
  const b = h('button', { type: 'button', class: 'secondary', text: file, title: `Open ${file} of this study`, 'data-testid': `open-${file}` });
  b.addEventListener('click', () => post({ v: 1, kind: 'study/openReportFile', file }));
  view.addAction(b);
}
app.append(view.root);

const saved = api.getState();
if (saved?.v === 1) view.update(saved.state);

window.addEventListener('message', (e: MessageEvent<HostToStudy>) => {
  const m = e.data;
  if (!m || m.v !== 1 || m.kind !== 'study/didChangeState') return;
  if (view.update(m.state)) api.setState({ v: 1, dir: m.state.dir, state: m.state });
});
post({ v: 1, kind: 'study/ready' });
