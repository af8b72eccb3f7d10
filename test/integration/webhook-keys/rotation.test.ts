/**
 * Rotating the webhook key against the local stack: the key is added through the local host's key API, every
 * custom-allocation enrollment and group that calls this webhook gets it (others are left alone), a crash in the
 * middle resumes from the saved state, the URL is published, the old key is removed only at the end — and devices
 * register through DPS before, during and after, while a call with the old key is refused.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../../dev/device';
import { randomEk } from '../../../dev/ek-factory';
import type { RunningHost } from '../../../dev/host/host';
import { DEMO_GROUP_ID, seedDemo } from '../../../dev/seed';
import { FileSecrets, HostFunctionKeys } from '../../../shared/local/host-function-keys';
import type { EnrollmentsPort } from '../../../shared/ports';
import { rotateWebhookKey, type RotationState } from '../../../shared/webhook-keys/rotate';
import { MASTER_KEY, startAppHost } from '../../support/app-host';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;

beforeAll(async () => {
  stack = await startTestStack();
  Object.assign(process.env, stack.env);
  const functions = await import('../../../functions/index');
  host = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    driveQueues: false,
    functionKeys: { allocate: { dps: 'old-dps-key' } },
  });
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

const tpm = () => ({ type: 'tpm' as const, tpm: { endorsementKey: randomEk().toString('base64') } });

test('a new key reaches every enrollment that calls the webhook, and the old one goes only then', async () => {
  const webhook = `${host.baseUrl}/api/allocate`;
  const dps = stack.services.enrollments;
  const { primaryKey } = await seedDemo(dps, `${webhook}?code=old-dps-key`);
  const custom = { apiVersion: '2021-10-01' };
  await dps.putEnrollment({
    registrationId: 'rotate-ours',
    attestation: tpm(),
    allocationPolicy: 'custom',
    customAllocationDefinition: { ...custom, webhookUrl: `${webhook}?code=old-dps-key` },
  });
  await dps.putEnrollment({
    registrationId: 'rotate-elsewhere',
    attestation: tpm(),
    allocationPolicy: 'custom',
    customAllocationDefinition: { ...custom, webhookUrl: 'https://other.example/api/allocate?code=theirs' },
  });
  const register = (id: string) => registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(primaryKey, id), {});
  expect((await register('rotate-before')).assignedHub).toBeTruthy();

  const dir = mkdtempSync(join(tmpdir(), 'rotation-'));
  const stateFile = join(dir, 'state.json');
  let refuse = true;
  // DPS refuses the group once (say, it changed meanwhile): reported, and the old key stays for now.
  const flaky: EnrollmentsPort = Object.create(dps, {
    putGroup: {
      value: async (...args: Parameters<EnrollmentsPort['putGroup']>) => {
        if (refuse) {
          refuse = false;
          throw new Error('the group changed meanwhile');
        }
        return dps.putGroup(...args);
      },
    },
  });
  let crashAt: string | undefined;
  const deps = (enrollments: EnrollmentsPort) => ({
    enrollments,
    keys: new HostFunctionKeys(host.baseUrl, MASTER_KEY, 'allocate'),
    secrets: new FileSecrets(join(dir, 'secrets.json')),
    state: {
      load: async () => JSON.parse(await readFile(stateFile, 'utf8').catch(() => 'null')) as RotationState | undefined,
      save: async (s: RotationState) => {
        await writeFile(stateFile, JSON.stringify(s));
        if (s.phase === crashAt) {
          crashAt = undefined;
          throw new Error('the operator’s laptop went to sleep');
        }
      },
    },
  });
  const request = { webhookBase: webhook, secretName: 'allocation-webhook-url' };
  const first = await rotateWebhookKey(deps(flaky), request);
  expect(first).toMatchObject({
    phase: 'enrollments', // to be run again
    oldKeyNames: ['dps'],
    counts: { rewritten: 1, failed: 0, stillOld: 0 },
  });
  const keys = await new HostFunctionKeys(host.baseUrl, MASTER_KEY, 'allocate').list();
  expect(keys.map((k) => k.name).sort()).toEqual(['dps', first.newKeyName].sort()); // both accepted meanwhile
  expect((await register('rotate-during')).assignedHub).toBeTruthy();

  // Run again; this time the process dies once the enrollments are done. The third run resumes with the groups.
  crashAt = 'groups';
  await expect(rotateWebhookKey(deps(dps), request)).rejects.toThrow(/went to sleep/);
  expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toMatchObject({ phase: 'groups', counts: { alreadyNew: 1 } });
  const done = await rotateWebhookKey(deps(dps), request);
  expect(done).toMatchObject({
    phase: 'done',
    newKeyName: first.newKeyName,
    counts: { rewritten: 2, alreadyNew: 1, failed: 0, stillOld: 0 },
    failures: [],
  });
  const newKey = keys.find((k) => k.name === first.newKeyName)?.value as string;
  const expected = `${webhook}?code=${encodeURIComponent(newKey)}`;
  expect((await dps.getGroup(DEMO_GROUP_ID))?.customAllocationDefinition?.webhookUrl).toBe(expected);
  expect((await dps.getEnrollment('rotate-ours'))?.customAllocationDefinition?.webhookUrl).toBe(expected);
  expect((await dps.getEnrollment('rotate-elsewhere'))?.customAllocationDefinition?.webhookUrl).toBe(
    'https://other.example/api/allocate?code=theirs',
  );
  expect(JSON.parse(readFileSync(join(dir, 'secrets.json'), 'utf8'))).toEqual({ 'allocation-webhook-url': expected });
  expect((await new HostFunctionKeys(host.baseUrl, MASTER_KEY, 'allocate').list()).map((k) => k.name)).toEqual([
    first.newKeyName,
  ]);
  expect((await register('rotate-after')).assignedHub).toBeTruthy();
  const oldKeyCall = await fetch(`${webhook}?code=old-dps-key`, { method: 'POST', body: '{}' });
  expect(oldKeyCall.status).toBe(401);
});
