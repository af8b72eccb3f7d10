/**
 * `dps-lifecycle tpm harvest [--tpm HOST:PORT|/dev/tpmrm0] --out FILE [--serial S] [--model M] [--lot L]`: the factory
 * station's step, Limpet's cross-platform counterpart. It reads the EK the device will present (see tpm/identity.ts),
 * its registration ID and, when the vendor provisioned one, its EK certificate, and appends a row to FILE in the
 * import's CSV columns, ready for `dps-lifecycle import FILE --manufacturer M`.
 */
import type { Command } from 'commander';

import { ROW_ATTRIBUTE } from '../shared/imports/rules/row';
import { DEFAULT_TPM_DEVICE, DEFAULT_TPM_TCP, openTpm } from './tpm/connection';
import { appendHarvestRow } from './tpm/harvest-file';
import { readTpmIdentity } from './tpm/identity';

interface HarvestOptions {
  tpm?: string;
  out: string;
  serial?: string;
  model?: string;
  lot?: string;
}

export async function harvest(opts: HarvestOptions, print: (line: string) => void = console.log): Promise<void> {
  for (const [flag, value] of [
    ['--serial', opts.serial],
    ['--model', opts.model],
    ['--lot', opts.lot],
  ] as const)
    // What the import would refuse is refused here, at the station, not days later.
    if (value !== undefined && !ROW_ATTRIBUTE.test(value))
      throw new Error(`${flag} must be 1–128 printable ASCII characters`);
  const connection = await openTpm(opts.tpm);
  try {
    const identity = await readTpmIdentity(connection);
    const { line, appended } = await appendHarvestRow(opts.out, {
      registrationId: identity.registrationId,
      endorsementKey: identity.endorsementKey.toString('base64'),
      ekCertificate: identity.ekCertificate?.toString('base64'),
      serialNumber: opts.serial,
      model: opts.model,
      lot: opts.lot,
    });
    const certificate = identity.ekCertificate ? 'with its EK certificate' : 'no EK certificate in NV 0x01c00002';
    print(
      appended
        ? `${identity.registrationId}: appended to ${opts.out} at line ${line} (${certificate}; TPM at ${connection.address})`
        : `${identity.registrationId}: already in ${opts.out} at line ${line}; nothing appended`,
    );
  } finally {
    connection.close();
  }
}

export function addTpmCommands(program: Command): void {
  program
    .command('tpm')
    .description('TPMs on the factory line')
    .command('harvest')
    .description("read a TPM's endorsement key as its device will present it, and append it to a file to import")
    .option(
      '--tpm <address>',
      `${DEFAULT_TPM_DEVICE}, or HOST:PORT of a TCP TPM (default: ${DEFAULT_TPM_DEVICE} when present, else ${DEFAULT_TPM_TCP})`,
    )
    .requiredOption('--out <file>', 'the CSV to append to (created with its header)')
    .option('--serial <serial>', "the device's serial number")
    .option('--model <model>', "the device's model")
    .option('--lot <lot>', 'the manufacturing lot')
    .action((opts: HarvestOptions) => harvest(opts));
}
