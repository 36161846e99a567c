import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { expectError } from '../../test/helpers/expect-error';
import { makeDirs, type MakeDirsFs } from './atomic';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-mkdirs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** node:fs, except that creating anything inside `readOnly` fails as on a read-only mount. */
function readOnlyMount(readOnly: string): MakeDirsFs {
  return {
    statSync: (p) => fs.statSync(p),
    mkdirSync(dir) {
      if (path.dirname(dir) === readOnly) throw Object.assign(new Error(`EROFS: read-only file system, mkdir '${dir}'`), { code: 'EROFS', errno: -30 });
      return fs.mkdirSync(dir);
    },
  };
}

describe('makeDirs', () => {
  it('creates every missing folder and accepts one that exists', () => {
    const dir = path.join(root, 'a', 'b', 'c');
    makeDirs(dir);
    assert.ok(fs.statSync(dir).isDirectory());
    makeDirs(dir);
  });

  it('a read-only parent is reported as read-only, naming the folder that could not be created, not as "does not exist"', () => {
    const parent = path.join(root, 'ro');
    fs.mkdirSync(parent);
    const target = path.join(parent, 'runs', 'run-1');
    const err = expectError(() => makeDirs(target, 'create run folder', readOnlyMount(parent)), 'IO', target, path.join(parent, 'runs'), 'read-only file system (EROFS)');
    assert.doesNotMatch(err.message, /ENOENT|does not exist/);
    const direct = path.join(parent, 'run-2');
    expectError(() => makeDirs(direct, 'create run folder', readOnlyMount(parent)), 'IO', `Cannot create run folder ${direct}: read-only file system (EROFS).`);
  });

  it('a file in the way is named as such', () => {
    const file = path.join(root, 'plain-file');
    fs.writeFileSync(file, 'x');
    expectError(() => makeDirs(path.join(file, 'run')), 'IO', /a parent path is not a directory \(ENOTDIR\)/);
    expectError(() => makeDirs(file), 'IO', /a file of that name exists/);
  });
});
