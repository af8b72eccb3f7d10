/**
 * The harvest file: one CSV a station (or several, on a shared disk) appends to, in the import's own columns, so the
 * maker uploads it as it is. The header is written once, by whichever station creates the file; a TPM read twice is
 * not appended twice.
 */
import { once } from 'node:events';
import { appendFileSync, closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { KNOWN_COLUMNS } from '../../shared/imports/rules/row';

export type HarvestRow = Partial<Record<(typeof KNOWN_COLUMNS)[number], string>> & { registrationId: string };

/**
 * What a factory station knows of a device: its TPM and its labels. The certificate policy is the cloud's choice (the
 * maker's default or the import job's), so the harvest never writes it — and files harvested before it existed
 * keep the header they were started with.
 */
const HARVEST_COLUMNS = KNOWN_COLUMNS.filter((c) => c !== 'certificatePolicy');
export const HARVEST_HEADER = HARVEST_COLUMNS.join(',');

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
function csvField(value: string | undefined): string {
  if (value === undefined) return '';
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Creates the file with its header, unless it exists (another station may have made it a moment ago). */
function ensureHeader(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    writeSync(fd, `${HARVEST_HEADER}\n`);
  } finally {
    closeSync(fd);
  }
}

/** The line holding `registrationId`, if any, after checking the file is one of ours. */
async function findRow(file: string, registrationId: string): Promise<{ line?: number; lines: number }> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const prefix = `${registrationId.toLowerCase()},`;
  let n = 0;
  let found: number | undefined;
  lines.on('line', (text) => {
    n++;
    if (n === 1 && text.trim() !== HARVEST_HEADER)
      lines.emit('error', new Error(`${file} has another header ("${text.slice(0, 80)}"): not a harvest file`));
    else if (found === undefined && text.toLowerCase().startsWith(prefix)) found = n;
  });
  await once(lines, 'close');
  return { line: found, lines: n };
}

/** Appends the row and says on which line it is, or where it already was. */
export async function appendHarvestRow(file: string, row: HarvestRow): Promise<{ line: number; appended: boolean }> {
  ensureHeader(file);
  const { line, lines } = await findRow(file, row.registrationId);
  if (line !== undefined) return { line, appended: false };
  // One write of one whole line with O_APPEND: rows from two stations never interleave.
  appendFileSync(file, `${HARVEST_COLUMNS.map((c) => csvField(row[c])).join(',')}\n`);
  return { line: lines + 1, appended: true };
}
