/** Writes schemas/run-config.schema.json from schemas/run-config.ts and the method catalog. `--check`: exit 1 when stale. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runConfigSchemaText, SCHEMA_FILE } from '../schemas/run-config';

const file = path.join(__dirname, '..', SCHEMA_FILE);
const text = runConfigSchemaText();
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== text) {
    console.error(`${SCHEMA_FILE} is stale: run npm run gen:schema`);
    process.exit(1);
  }
  console.log(`${SCHEMA_FILE} is up to date`);
} else {
  fs.writeFileSync(file, text);
  console.log(`wrote ${SCHEMA_FILE}`);
}
