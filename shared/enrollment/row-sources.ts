/**
 * Rows out of a maker's upload, streamed: CSV (csv-parse, header row), NDJSON (one object a line) or a JSON array
 * (@streamparser/json). Memory stays flat whatever the file's size. A record that cannot be read comes out as a
 * `BrokenRow` with its line and the parser's reason, and the rows after it go on.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';

import { JSONParser } from '@streamparser/json';
import { type CsvError, parse as parseCsv } from 'csv-parse';

import type { RawRow } from './row';

export type ImportFormat = 'csv' | 'ndjson' | 'json';

export interface BrokenRow {
  line: number;
  error: string;
}

export type SourceRow = RawRow | BrokenRow;

export const isBroken = (row: SourceRow): row is BrokenRow => 'error' in row;

/** The format from a Content-Type (or a file name's extension). */
export function formatOf(contentTypeOrName: string | undefined): ImportFormat | undefined {
  const v = (contentTypeOrName ?? '').toLowerCase();
  if (/(^|\/|\.)(x-)?(ndjson|jsonl|json-seq)\b/.test(v) || v.endsWith('.ndjson') || v.endsWith('.jsonl'))
    return 'ndjson';
  if (/\bjson\b/.test(v)) return 'json';
  if (/\bcsv\b/.test(v)) return 'csv';
  return undefined;
}

/** Field values as text: numbers and booleans become strings; objects are refused (tags are flat). */
function fieldsOf(value: unknown): Record<string, string> | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'a row must be a JSON object';
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    if (typeof v === 'object') return `field "${k}" must be a string, number or boolean`;
    fields[k] = String(v);
  }
  return fields;
}

async function* csvRows(input: AsyncIterable<Uint8Array>): AsyncGenerator<SourceRow> {
  // csv-parse reports an unreadable record (wrong column count, bad quoting) as it parses, ahead of the records
  // still buffered before it; it is held back and given out in file order.
  const skipped: BrokenRow[] = [];
  const parser = parseCsv({
    columns: true,
    bom: true,
    trim: true,
    skip_empty_lines: true,
    info: true,
    raw: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      if (err) skipped.push({ line: Number(err.lines ?? 0), error: `unreadable CSV record: ${err.message}` });
    },
  });
  const records = Readable.from(input).pipe(parser) as AsyncIterable<{
    record: Record<string, string>;
    raw: string;
    info: { lines: number };
  }>;
  for await (const { record, raw, info } of records) {
    // `info.lines` is where the record ends; a quoted field may span lines, and the row is reported where it starts.
    // `raw` also holds the blank lines skipped before the record, and its own line break.
    const line =
      info.lines -
      (raw
        .replace(/^(?:[ \t]*\r?\n)+/, '')
        .replace(/\r?\n$/, '')
        .match(/\n/g)?.length ?? 0);
    while (skipped.length && skipped[0].line < line) yield skipped.shift() as BrokenRow;
    yield { line, fields: record };
  }
  yield* skipped;
}

async function* ndjsonRows(input: AsyncIterable<Uint8Array>): AsyncGenerator<SourceRow> {
  let line = 0;
  for await (const text of createInterface({ input: Readable.from(input), crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      yield { line, error: `not JSON: ${(err as Error).message}` };
      continue;
    }
    const fields = fieldsOf(value);
    yield typeof fields === 'string' ? { line, error: fields } : { line, fields };
  }
}

async function* jsonArrayRows(input: AsyncIterable<Uint8Array>): AsyncGenerator<SourceRow> {
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  const ready: SourceRow[] = [];
  let index = 0;
  let failure: Error | undefined;
  parser.onValue = ({ value }) => {
    index++;
    const fields = fieldsOf(value);
    ready.push(typeof fields === 'string' ? { line: index, error: fields } : { line: index, fields });
  };
  parser.onError = (err) => {
    failure = err;
  };
  for await (const chunk of input) {
    if (failure) break;
    try {
      parser.write(chunk);
    } catch (err) {
      failure = err as Error;
    }
    while (ready.length) yield ready.shift() as SourceRow;
  }
  if (!failure && !parser.isEnded) failure = new Error('the JSON array is not closed (the upload ends early)');
  while (ready.length) yield ready.shift() as SourceRow;
  // A broken JSON document cannot be resumed past the break: report where, and stop.
  if (failure) yield { line: index + 1, error: `unreadable JSON after item ${index}: ${failure.message}` };
}

/** The rows of an upload in the given format. `line` is the file line (CSV, NDJSON) or the array position (JSON). */
export function rowsOf(format: ImportFormat, input: AsyncIterable<Uint8Array>): AsyncGenerator<SourceRow> {
  switch (format) {
    case 'csv':
      return csvRows(input);
    case 'ndjson':
      return ndjsonRows(input);
    case 'json':
      return jsonArrayRows(input);
  }
}
