/**
 * Rows out of a maker's upload, streamed: CSV (csv-parse, header row), NDJSON (one object a line) or a JSON array
 * (@streamparser/json). Memory stays flat whatever the file's size: no record may pass MAX_RECORD_BYTES. A record that
 * cannot be read comes out as a `BrokenRow` with its line and the parser's reason, and the rows after it go on.
 * Every row says where the next one starts (`next`), so reading can stop and resume there: CSV and NDJSON from that
 * byte offset; a JSON array is read again from its start, skipping the items already taken.
 */
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

/** Where reading stands: the byte offset of the next record, the lines (JSON: items) before it, CSV's header. */
export interface SourcePosition {
  offset: number;
  line: number;
  columns?: string[];
}

export type PositionedRow = SourceRow & { next: SourcePosition };

/** csv-parse's `max_record_size`, NDJSON's longest line, a JSON array's largest item: 16 KB (an EK row is ~1.5 KB). */
export const MAX_RECORD_BYTES = 16 * 1024;

export const START: SourcePosition = { offset: 0, line: 0 };

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

async function* csvRows(input: AsyncIterable<Uint8Array>, from: SourcePosition): AsyncGenerator<PositionedRow> {
  // csv-parse reports an unreadable record (wrong column count, bad quoting) as it parses, ahead of the records
  // still buffered before it; it is held back and given out in file order.
  const skipped: BrokenRow[] = [];
  let lastSkipped: BrokenRow | undefined;
  let columns = from.columns;
  const parser = parseCsv({
    // Resuming mid-file, the header read at the start names the columns.
    columns: columns ?? ((header: string[]) => (columns = header)),
    bom: from.offset === 0,
    trim: true,
    skip_empty_lines: true,
    info: true,
    raw: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_BYTES,
    on_skip: (err: CsvError | undefined) => {
      if (!err) return;
      const broken = { line: from.line + Number(err.lines ?? 0), error: `unreadable CSV record: ${err.message}` };
      // A record cut at max_record_size may fail again in its next 16 KB: one report per record is enough.
      const last = skipped[skipped.length - 1] ?? lastSkipped;
      if (last?.line === broken.line && last.error === broken.error) return;
      skipped.push(broken);
      lastSkipped = broken;
    },
  });
  const records = Readable.from(input).pipe(parser) as AsyncIterable<{
    record: Record<string, string>;
    raw: string;
    info: { lines: number; bytes: number };
  }>;
  let next = from;
  for await (const { record, raw, info } of records) {
    // `info.lines` is where the record ends; a quoted field may span lines, and the row is reported where it starts.
    // `raw` also holds the blank lines skipped before the record, and its own line break.
    const line =
      from.line +
      info.lines -
      (raw
        .replace(/^(?:[ \t]*\r?\n)+/, '')
        .replace(/\r?\n$/, '')
        .match(/\n/g)?.length ?? 0);
    next = { offset: from.offset + info.bytes, line: from.line + info.lines, columns };
    while (skipped.length && skipped[0].line < line) yield { ...(skipped.shift() as BrokenRow), next };
    yield { line, fields: record, next };
  }
  for (const row of skipped) yield { ...row, next };
}

/** One NDJSON line as a row; undefined for a blank one. */
function ndjsonRow(text: string, line: number, next: SourcePosition): PositionedRow | undefined {
  if (text.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { line, error: `not JSON: ${(err as Error).message}`, next };
  }
  const fields = fieldsOf(value);
  return typeof fields === 'string' ? { line, error: fields, next } : { line, fields, next };
}

async function* ndjsonRows(input: AsyncIterable<Uint8Array>, from: SourcePosition): AsyncGenerator<PositionedRow> {
  let line = from.line;
  let base = from.offset; // the file offset of the chunk being split
  let parts: Buffer[] = [];
  let length = 0;
  let tooLong = false;
  const take = (piece: Buffer) => {
    if (tooLong) return; // the rest of an over-long line is skipped, never held
    if (length + piece.length > MAX_RECORD_BYTES) {
      tooLong = true;
      parts = [];
      return;
    }
    parts.push(piece);
    length += piece.length;
  };
  const row = (next: SourcePosition): PositionedRow | undefined => {
    const result = tooLong
      ? { line, error: `the line is longer than ${MAX_RECORD_BYTES} bytes`, next }
      : ndjsonRow(Buffer.concat(parts, length).toString('utf8'), line, next);
    parts = [];
    length = 0;
    tooLong = false;
    return result;
  };
  for await (const chunk of input) {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      take(buf.subarray(start, nl));
      line++;
      const result = row({ offset: base + nl + 1, line });
      if (result) yield result;
      start = nl + 1;
    }
    take(Buffer.from(buf.subarray(start))); // a copy: the stream may reuse its buffer
    base += buf.length;
  }
  if (length > 0 || tooLong) {
    line++;
    const result = row({ offset: base, line });
    if (result) yield result;
  }
}

/** Slices the parser is fed, so that an item that never ends is caught within a slice of MAX_RECORD_BYTES. */
const JSON_SLICE = 64 * 1024;

async function* jsonArrayRows(input: AsyncIterable<Uint8Array>, from: SourcePosition): AsyncGenerator<PositionedRow> {
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  const ready: PositionedRow[] = [];
  let index = 0;
  let failure: Error | undefined;
  let sinceItem = 0;
  parser.onValue = ({ value }) => {
    index++;
    sinceItem = 0;
    if (index <= from.line) return; // taken before this read began
    const next = { offset: 0, line: index };
    const fields = fieldsOf(value);
    ready.push(typeof fields === 'string' ? { line: index, error: fields, next } : { line: index, fields, next });
  };
  parser.onError = (err) => {
    failure = err;
  };
  for await (const chunk of input) {
    for (let at = 0; at < chunk.byteLength && !failure; at += JSON_SLICE) {
      const slice = chunk.subarray(at, at + JSON_SLICE);
      sinceItem += slice.byteLength;
      try {
        parser.write(slice);
      } catch (err) {
        failure = err as Error;
      }
      if (sinceItem > MAX_RECORD_BYTES + JSON_SLICE)
        failure ??= new Error(`item ${index + 1} is larger than ${MAX_RECORD_BYTES} bytes`);
      while (ready.length) yield ready.shift() as PositionedRow;
    }
    if (failure) break;
  }
  if (!failure && !parser.isEnded) failure = new Error('the JSON array is not closed (the upload ends early)');
  while (ready.length) yield ready.shift() as PositionedRow;
  // A broken JSON document cannot be resumed past the break: report where, and stop.
  if (failure)
    yield {
      line: index + 1,
      error: `unreadable JSON after item ${index}: ${failure.message}`,
      next: { offset: 0, line: index + 1 },
    };
}

/**
 * The rows of an upload in the given format. `line` is the file line (CSV, NDJSON) or the array position (JSON).
 * `input` starts at `from.offset` of the file (always 0 for JSON); rows up to `from.line` are not given again.
 */
export function rowsOf(
  format: ImportFormat,
  input: AsyncIterable<Uint8Array>,
  from: SourcePosition = START,
): AsyncGenerator<PositionedRow> {
  switch (format) {
    case 'csv':
      return csvRows(input, from);
    case 'ndjson':
      return ndjsonRows(input, from);
    case 'json':
      return jsonArrayRows(input, from);
  }
}

/** Where a format's reading resumes from `position`: JSON arrays are read from their start again. */
export const resumeOffset = (format: ImportFormat, position: SourcePosition) =>
  format === 'json' ? 0 : position.offset;
