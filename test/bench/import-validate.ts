/**
 * One validation run in its own process, so its peak memory is its own: `ours` streams the file through the row
 * checks and the compact duplicate sets (what the import endpoint does); `naive` reads the file whole, splits it and
 * keeps every verdict and a Set of keys. Prints one JSON line.
 */
import { createReadStream, readFileSync } from 'node:fs';

import { FileDuplicates } from '../../shared/imports/rules/duplicates';
import { type RowVerdict, validateRow } from '../../shared/imports/rules/row';
import { isBroken, rowsOf } from '../../shared/imports/rules/row-sources';

const [impl, file] = process.argv.slice(2);
const rules = { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-' };

async function ours(): Promise<number> {
  const duplicates = new FileDuplicates();
  let valid = 0;
  for await (const row of rowsOf('csv', createReadStream(file, { highWaterMark: 1 << 20 }))) {
    if (isBroken(row)) continue;
    const verdict = validateRow(row, rules);
    if (verdict.status === 'valid' && duplicates.check(verdict).status === 'valid') valid++;
  }
  return valid;
}

async function naive(): Promise<number> {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines[0].split(',');
  const verdicts: RowVerdict[] = [];
  const eks = new Set<string>();
  const ids = new Set<string>();
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i]) continue;
    const cells = lines[i].split(',');
    const verdict = validateRow(
      { line: i + 1, fields: Object.fromEntries(header.map((h, j) => [h, cells[j]])) },
      rules,
    );
    if (verdict.status === 'valid') {
      if (eks.has(verdict.ekHash) || ids.has(verdict.registrationId)) continue;
      eks.add(verdict.ekHash);
      ids.add(verdict.registrationId);
    }
    verdicts.push(verdict);
  }
  return verdicts.filter((v) => v.status === 'valid').length;
}

const started = performance.now();
(impl === 'naive' ? naive() : ours()).then(
  (valid) => {
    const ms = performance.now() - started;
    console.log(JSON.stringify({ impl, valid, ms, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
  },
  (err: unknown) => {
    console.log(
      JSON.stringify({
        impl,
        error: String((err as Error)?.message ?? err),
        maxRssMB: process.resourceUsage().maxRSS / 1024,
      }),
    );
  },
);
