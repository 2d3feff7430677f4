import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRows, type Bench } from './harness.js';

// `npm run bench` runs every *.bench.ts here; `npm run bench -- drain ingest` only those names.
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.includes(w)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(' ')}`);
  process.exit(2);
}
for (const file of files) {
  const bench = (await import(join(here, file))).default as Bench;
  console.log(`\n## ${file.replace('.bench.ts', '')}\n`);
  const started = performance.now();
  const rows = await bench();
  console.log(formatRows(rows));
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
