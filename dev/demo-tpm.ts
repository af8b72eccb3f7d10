/**
 * `npm run demo:tpm` (with `npm start` running): the TPM factory flow on real TPM 2.0s. Three swtpm TPMs are harvested
 * on a "line" into one CSV, the CSV is imported as the demo maker `acme-tpm`, each device registers with the official
 * TPM client over HTTPS, our webhook allocates it, and it is read back from its hub — where its key is the one its TPM
 * signs with. A fourth TPM, never imported, is refused.
 */
import 'reflect-metadata';

import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { buildProgram } from '../cli/program';
import { harvest } from '../cli/tpm-commands';
import { registerTpmDevice } from './device';
import { loadLocalSettings } from './local-settings';
import { findSwtpm, type RunningTpm, startSwtpm, SWTPM_INSTALL } from './swtpm';

async function main(): Promise<void> {
  if (!findSwtpm()) {
    console.error(`demo:tpm needs swtpm, a software TPM 2.0: ${SWTPM_INSTALL}`);
    process.exit(1);
  }
  const env = loadLocalSettings().Values;
  Object.assign(process.env, env);
  const { buildServices } = await import('../shared/composition');
  const services = await buildServices(env);
  const dir = join('.data', 'demo-tpm');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `line-${Date.now().toString(36)}.csv`);
  const tpms: RunningTpm[] = await Promise.all([0, 1, 2, 3].map(() => startSwtpm()));
  try {
    console.log(`4 TPMs (swtpm) at ${tpms.map((t) => t.address).join(', ')}`);
    console.log(`\n1. the factory line harvests TPMs 1–3 into ${file}`);
    for (const [i, tpm] of tpms.slice(0, 3).entries())
      await harvest({ tpm: tpm.address, out: file, serial: `SN-${i + 1}`, model: 'gw-400', lot: 'demo-lot' });

    console.log('\n2. the maker imports the file as acme-tpm');
    await buildProgram().parseAsync([
      'node',
      'dps-lifecycle',
      'import',
      file,
      '--manufacturer',
      'acme-tpm',
      '--follow',
    ]);

    console.log('\n3. first boot: each device registers with its TPM (official client, HTTPS)');
    for (const tpm of tpms.slice(0, 3)) {
      const started = Date.now();
      const device = await registerTpmDevice(env, tpm.address, { modelId: 'dtmi:acme:gw400;1' });
      try {
        const elapsed = Date.now() - started;
        const { registrationId, assignedHub, deviceId } = device.registration;
        const identity = await services.hubs.hub(assignedHub).getDevice(deviceId);
        const probe = Buffer.from(`${assignedHub}/devices/${deviceId}\n${Math.floor(Date.now() / 1000) + 3600}`);
        const hubKey = Buffer.from(identity?.authentication?.symmetricKey?.primaryKey ?? '', 'base64');
        const same = (await device.sign(probe)).equals(createHmac('sha256', hubKey).update(probe).digest());
        const twin = await services.hubs.hub(assignedHub).getTwin(deviceId);
        console.log(`   ${registrationId} → ${assignedHub} in ${elapsed} ms`);
        console.log(
          `     on the hub: ${identity?.authentication?.type} key ${same ? 'matches what the TPM signs with' : 'DOES NOT MATCH the TPM'}; tags ${JSON.stringify(twin?.tags)}`,
        );
      } finally {
        device.close();
      }
    }

    console.log('\n4. a fourth TPM, never harvested nor imported, tries to register');
    await registerTpmDevice(env, tpms[3].address).then(
      (device) => {
        device.close();
        throw new Error(`TPM 4 was let in as ${device.registration.registrationId}`);
      },
      (err: Error) =>
        console.log(
          `   refused: DPS answered 401 with no challenge (the TPM matches no enrollment); the client says "${err.message}"`,
        ),
    );
  } finally {
    await Promise.all(tpms.map((t) => t.stop()));
    await services.events.close();
  }
}

main().catch((err) => {
  console.error(`demo:tpm failed: ${err?.message ?? err}`);
  process.exit(1);
});
