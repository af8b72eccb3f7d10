/**
 * `npm run demo:eks -- --rows 1000 --out eks.csv [--manufacturer-prefix acme-] [--format csv|ndjson]`: a maker's file
 * of generated EKs (valid TPM2B_PUBLIC, random moduli), streamed to disk, for demos and the import benchmark.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

import { randomEk } from './ek-factory';

export async function writeEkFile(
  out: string,
  rows: number,
  options: { prefix?: string; format?: 'csv' | 'ndjson'; lot?: string } = {},
): Promise<void> {
  const stream = createWriteStream(out);
  const format = options.format ?? 'csv';
  const write = async (text: string) => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  if (format === 'csv') await write('registrationId,endorsementKey,serialNumber,model,lot\n');
  for (let i = 0; i < rows; i++) {
    const id = options.prefix ? `${options.prefix}${String(i).padStart(8, '0')}` : '';
    const ek = randomEk().toString('base64');
    const row = {
      registrationId: id,
      endorsementKey: ek,
      serialNumber: `SN${i}`,
      model: 'tpm-demo',
      lot: options.lot ?? 'lot-1',
    };
    await write(
      format === 'csv' ? `${id},${ek},${row.serialNumber},${row.model},${row.lot}\n` : `${JSON.stringify(row)}\n`,
    );
  }
  stream.end();
  await once(stream, 'finish');
}

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
