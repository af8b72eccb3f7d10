/**
 * `npm run demo:eks -- --rows 1000 --out eks.csv [--manufacturer-prefix acme-] [--format csv|ndjson]`: a maker's file
 * of generated EKs (valid TPM2B_PUBLIC, random moduli), streamed to disk, for demos and the import benchmark.
 */
import { parseArgs } from 'node:util';

import { writeEkFile } from './ek-factory';

if (require.main === module) {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000' },
      out: { type: 'string', default: 'eks.csv' },
      'manufacturer-prefix': { type: 'string' },
      format: { type: 'string', default: 'csv' },
    },
  });
  writeEkFile(values.out as string, Number(values.rows), {
    prefix: values['manufacturer-prefix'],
    format: values.format as 'csv' | 'ndjson',
  }).then(
    () => console.log(`wrote ${values.rows} EKs to ${values.out}`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
