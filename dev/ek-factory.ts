/** Endorsement keys for demos, tests and benchmarks: real TPM2B_PUBLIC bytes of template L-1 around a random modulus. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

import { endorsementKeyFromRsa } from '../shared/imports/rules/tpm-public';

/** A random RSA-2048-shaped modulus (high bit set, odd): the EK parser checks shape, not primality. */
export function randomModulus(random: () => Buffer = () => randomBytes(256)): Buffer {
  const m = random();
  m[0] |= 0x80;
  m[255] |= 1;
  return m;
}

export function randomEk(): Buffer {
  return endorsementKeyFromRsa({ modulus: randomModulus(), exponent: 65537 });
}

/** A maker's file of `rows` generated EKs (CSV with the import's header, or NDJSON), streamed to disk. */
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
