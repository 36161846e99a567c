// Prints the distillation table of docs/RESULTS.md from a distill-sst2.sh output folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

const out = process.argv[2] ?? 'runs/distill-sst2';
const lastEval = (run) => {
  const lines = fs.readFileSync(path.join(out, run, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return lines.filter((e) => e.type === 'eval').at(-1)?.metrics ?? {};
};
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const std = (a) => Math.sqrt(mean(a.map((x) => (x - mean(a)) ** 2)) * (a.length / Math.max(1, a.length - 1)));
const seeds = [0, 1, 2].filter((s) => fs.existsSync(path.join(out, `student-${s}`, 'distill.json')));
const summaries = seeds.map((s) => JSON.parse(fs.readFileSync(path.join(out, `student-${s}`, 'distill.json'), 'utf8')));
const t = summaries[0].teacher;
const st = summaries.map((s) => s.student);
const acc = st.map((s) => s.accuracy);
const direct = seeds.map((s) => lastEval(`direct-${s}`).accuracy).filter((x) => x !== undefined);
const agree = st.map((s) => s.teacher_agreement);
const f = (x, d = 4) => x.toFixed(d);
console.log(`| model | parameters | size (float32) | ms / example | SST-2 dev accuracy |`);
console.log(`| --- | ---: | ---: | ---: | ---: |`);
console.log(`| teacher (2 layers, full fine-tuning) | ${t.parameters.toLocaleString('en-US')} | ${(t.bytes / 2 ** 20).toFixed(1)} MiB | ${f(t.msPerExample, 3)} | ${f(t.accuracy)} |`);
console.log(`| student (layer 0, distilled; ${seeds.length} seeds) | ${st[0].parameters.toLocaleString('en-US')} | ${(st[0].bytes / 2 ** 20).toFixed(1)} MiB | ${f(mean(st.map((s) => s.msPerExample)), 3)} | ${f(mean(acc))} ± ${f(std(acc))} |`);
if (direct.length) console.log(`| same 1-layer model, labels only (${direct.length} seeds) | ${st[0].parameters.toLocaleString('en-US')} | | | ${f(mean(direct))} ± ${f(std(direct))} |`);
console.log('');
console.log(`ratios (student / teacher): parameters ${f(st[0].parameters / t.parameters, 3)}, speed ${f(mean(st.map((s) => t.msPerExample / s.msPerExample)), 2)}×, accuracy retained ${f((100 * mean(acc)) / t.accuracy, 1)}%, agreement with the teacher ${f(mean(agree))} ± ${f(std(agree))}`);
