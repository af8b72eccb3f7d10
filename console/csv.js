/* CSV for spreadsheets (the bad-rows download): makers' values reach an operator's Excel, which runs a cell that
   starts like a formula (`=HYPERLINK(…)`, `@SUM(…)`). As OWASP's CSV injection guidance says: such a cell gets a
   leading single quote (shown as text, not run), and every cell is quoted so no value can open a new one. */
'use strict';

// Formula starts: = + - @, tab and carriage return; and their full-width forms, which Excel also reads as formulas.
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

function csvCell(value) {
  const text = String(value ?? '');
  return `"${(FORMULA_START.test(text) ? `'${text}` : text).replace(/"/g, '""')}"`;
}

// eslint-disable-next-line @typescript-eslint/no-unused-vars -- app.js, inlined after this script, calls it
const csvLine = (values) => values.map(csvCell).join(',');
