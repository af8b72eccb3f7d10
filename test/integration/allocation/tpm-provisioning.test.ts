/**
 * TPM devices end to end with real TPM 2.0s (swtpm) and the official TPM client: the activation blobs the local DPS
 * makes are activated by the TPM itself; a factory harvest, an import, and each device registering over HTTPS
 * through our webhook, its hub key held in its TPM; a TPM never imported is refused.
 *
 * The one test allowed to skip: without swtpm it reports itself skipped with the install command. Under CI=true a
 * missing swtpm fails the run (.ci/run installs it).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { registerTpmDevice } from '../../../dev/device';
import type { RunningHost } from '../../../dev/host/host';
import { activationBlob } from '../../../dev/sim/tpm/activation';
import { findSwtpm, type RunningTpm, startSwtpm, SWTPM_INSTALL } from '../../../dev/swtpm';
import { startFunctionApp } from '../../support/app-host';
import { runCli } from '../../support/cli';
import { startTestStack, type TestStack } from '../../support/stack';
import { activateCredential, ekCertificateFor, hmac, provisionEkCertificate, tpmClient } from '../../support/tpm';

const swtpm = findSwtpm();
if (!swtpm && process.env.CI === 'true') throw new Error(`CI needs swtpm for the TPM tests: ${SWTPM_INSTALL}`);
const describeWithTpm = swtpm ? describe : describe.skip;
const title = swtpm
  ? 'TPM devices with real TPMs (swtpm)'
  : `TPM devices with real TPMs — skipped: swtpm is not installed (${SWTPM_INSTALL})`;

describeWithTpm(title, () => {
  let tpms: RunningTpm[] = [];
  let stack: TestStack;
  let host: RunningHost;
  const maker = { token: 'dev-acme-tpm-secret-not-a-secret' };

  beforeAll(async () => {
    tpms = await Promise.all([0, 1, 2, 3].map(() => startSwtpm()));
    stack = await startTestStack({ withStorage: true });
    Object.assign(process.env, stack.env);
    host = await startFunctionApp();
  });
  afterAll(async () => {
    await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
    await host?.close();
    await stack?.close();
    await Promise.all(tpms.map((t) => t.stop()));
  });

  test('the TPM activates the blob the simulator makes; another TPM, or an altered credential, gets nothing', async () => {
    const other = await tpmClient(tpms[1].address);
    const otherEk = await other.endorsementKey();
    other.close();

    const tpm = await tpmClient(tpms[0].address);
    const [ek, srk] = [await tpm.endorsementKey(), await tpm.storageRootKey()];
    const key = randomBytes(32);
    await tpm.activate(activationBlob(ek, srk, key, 'test/registrations/x'));
    const data = Buffer.from('0ne00000000/registrations/x\n1700000000');
    // The HMAC the TPM computes with the imported key is ours: it holds exactly the key the blob carried.
    expect(await tpm.sign(data)).toEqual(hmac(key, data));
    tpm.close();

    // Only that TPM recovers the credential, and only for that SRK; an altered credential fails its integrity check.
    const blob = activationBlob(ek, srk, key, 'x');
    expect(await activateCredential(tpms[0].address, blob)).toHaveLength(16);
    await expect(activateCredential(tpms[0].address, activationBlob(otherEk, srk, key, 'x'))).rejects.toThrow(
      /ActivateCredential: TPM_RC/,
    );
    await expect(activateCredential(tpms[1].address, blob)).rejects.toThrow(/ActivateCredential: TPM_RC/);
    const altered = Buffer.from(blob);
    altered[40] ^= 0x01; // inside encIdentity
    await expect(activateCredential(tpms[0].address, altered)).rejects.toThrow(/ActivateCredential: TPM_RC/);
  });

  test('harvested on the line, imported, registered with the official client: allocated by our webhook, the hub key in the TPM', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'harvest-')), 'line-1.csv');
    const harvested: string[] = [];
    for (const [i, tpm] of tpms.slice(0, 3).entries()) {
      const out = await runCli(host.baseUrl, maker, [
        'tpm', 'harvest', '--tpm', tpm.address, '--out', file, '--serial', `SN-${i}`, '--model', 'gw-400', '--lot', 'L-7',
      ]); // prettier-ignore
      const id = /^([a-z2-7]{52}): appended to .* at line (\d+)/.exec(out);
      expect(id?.[2]).toBe(String(i + 2));
      harvested.push(id?.[1] as string);
    }
    // Read again, a TPM is not appended twice.
    expect(await runCli(host.baseUrl, maker, ['tpm', 'harvest', '--tpm', tpms[1].address, '--out', file])).toContain(
      `${harvested[1]}: already in ${file} at line 3`,
    );
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(4);

    const imported = await runCli(host.baseUrl, maker, ['import', file, '--manufacturer', 'acme-tpm', '--follow']);
    expect(imported).toContain('done: 3 rows, 3 valid, 0 invalid, 0 duplicate | 3 enrolled, 0 already, 0 failed');

    const hubs = stack.env.IOTHUB_HOST_NAMES.split(',');
    for (const [i, tpm] of tpms.slice(0, 3).entries()) {
      const device = await registerTpmDevice(stack.env, tpm.address, { modelId: 'dtmi:acme:gw400;1' });
      try {
        const result = device.registration;
        expect(result).toMatchObject({ registrationId: harvested[i], deviceId: harvested[i] });
        expect(hubs).toContain(result.assignedHub);
        const hub = stack.services.hubs.hub(result.assignedHub);
        const identity = await hub.getDevice(result.deviceId);
        expect(identity?.authentication?.type).toBe('sas');
        // The device signs its hub SAS in the TPM with the key DPS wrapped for it: the hub's key for the device.
        const sasPayload = Buffer.from(`${result.assignedHub}/devices/${result.deviceId}\n1900000000`);
        expect(await device.sign(sasPayload)).toEqual(
          hmac(identity?.authentication?.symmetricKey?.primaryKey as string, sasPayload),
        );
        expect((await hub.getTwin(result.deviceId))?.tags).toMatchObject({
          manufacturer: 'acme-tpm',
          serialNumber: `SN-${i}`,
          lot: 'L-7',
        });
        expect(await stack.services.enrollments.getRegistrationState(harvested[i])).toMatchObject({
          status: 'assigned',
          assignedHub: result.assignedHub,
        });
      } finally {
        device.close();
      }
    }
  });

  test('a TPM never imported is refused, and nothing of it reaches a hub', async () => {
    const stranger = await tpmClient(tpms[3].address);
    const id = await stranger.registrationId();
    stranger.close();
    await expect(registerTpmDevice(stack.env, tpms[3].address)).rejects.toThrow();
    expect(await stack.services.enrollments.getRegistrationState(id)).toBeUndefined();
  });

  test("a harvest carries the EK certificate the vendor left in the TPM's NV", async () => {
    const tpm = await tpmClient(tpms[3].address);
    const ek = await tpm.endorsementKey();
    tpm.close();
    const der = await ekCertificateFor(ek);
    await provisionEkCertificate(tpms[3].address, der);
    const file = join(mkdtempSync(join(tmpdir(), 'harvest-')), 'line-2.csv');
    expect(await runCli(host.baseUrl, maker, ['tpm', 'harvest', '--tpm', tpms[3].address, '--out', file])).toContain(
      'with its EK certificate',
    );
    const [header, row] = readFileSync(file, 'utf8').trim().split('\n');
    expect(header).toBe('registrationId,endorsementKey,ekCertificate,serialNumber,model,lot');
    expect(row.split(',')[1]).toBe(ek.toString('base64'));
    expect(row.split(',')[2]).toBe(der.toString('base64'));
  });
});
