/**
 * The allocation webhook end to end: devices register through the local DPS (official device SDK), DPS calls the
 * webhook on the local Functions host, the policy file's rules choose the hub, the deny list in Cosmos refuses a
 * revoked device, and the explain route says why.
 */
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../../dev/device';
import type { RunningHost } from '../../../dev/host/host';
import { seedDemo } from '../../../dev/seed';
import type { AllocationRuntime } from '../../../shared/allocation/runtime';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import { startAppHost } from '../../support/app-host';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
let host: RunningHost;
let groupKey: string;
let runtime: AllocationRuntime;
let policyFile: string;
const register = (id: string, payload?: unknown) =>
  registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(groupKey, id), payload);

beforeAll(async () => {
  stack = await startTestStack({ webhook: { retry: { attempts: 2, firstDelayMs: 10, incrementMs: 10 } } });
  policyFile = join(stack.dataDir, 'policy.json');
  writeFileSync(policyFile, readFileSync(stack.env.ALLOCATION_POLICY_FILE));
  Object.assign(process.env, stack.env, { ALLOCATION_POLICY_FILE: policyFile });
  const functions = await import('../../../functions/index');
  runtime = (await import('../../../functions/edge/allocation-runtime')).allocationRuntime();
  host = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    driveQueues: false,
  });
  groupKey = (await seedDemo(stack.services.enrollments, `${host.baseUrl}/api/allocate?code=fk`)).primaryKey;
});
afterAll(async () => {
  await runtime?.stop();
  await host?.close();
  await stack?.close();
});

test('a device lands on the hub its rule chooses, with the rule’s twin and payload', async () => {
  const result = await register('us-thermostat-1', { modelId: 'dtmi:contoso:thermostat;1', region: 'us' });
  expect(result.assignedHub).toBe('hub-us-1.azure-devices.net');
  expect(result.payload).toEqual({ assignedBy: 'rule us-devices' });
  const twin = await stack.services.hubs.hub('hub-us-1.azure-devices.net').getTwin('us-thermostat-1');
  expect(twin?.tags).toEqual({ environment: 'local-demo', region: 'us', model: 'dtmi:contoso:thermostat;1' });
});

test('a device revoked in the deny list is refused at once (pushed) and after a refresh from Cosmos', async () => {
  await register('eu-meter-7', { region: 'eu' });
  runtime.pushDenyEntries([
    { kind: 'registrationId', value: 'eu-meter-7', reason: 'reported stolen', incidentId: 'inc-42' },
  ]);
  await expect(register('eu-meter-7', { region: 'eu' })).rejects.toThrow();
  expect(await stack.services.enrollments.getRegistrationState('eu-meter-7')).toMatchObject({
    status: 'failed',
    errorCode: 400207,
    errorMessage: expect.stringContaining('reported stolen'),
  });

  // Another instance revokes it: this one learns it from the deny list's change log at its next refresh.
  await new CosmosDenyListRepository(stack.services.store).hold(
    [{ kind: 'registrationId', value: 'eu-meter-8', reason: 'tampered' }],
    'inc-43',
  );
  await runtime.refreshDenyList();
  await expect(register('eu-meter-8', { region: 'eu' })).rejects.toThrow();
  await expect(register('eu-meter-9', { region: 'eu' })).resolves.toMatchObject({
    assignedHub: expect.stringMatching(/hub-eu-/),
  });
});

test('explain (the Admin role only) shows the rule, each candidate’s score, and the skipped hubs', async () => {
  const request = {
    enrollmentGroup: { enrollmentGroupId: 'demo-custom-allocation', attestation: { type: 'symmetricKey' } },
    deviceRuntimeContext: { registrationId: 'why-me', symmetricKey: {}, payload: { region: 'eu' } },
    linkedHubs: ['hub-eu-1.azure-devices.net', 'hub-us-1.azure-devices.net'],
  };
  const post = (bearer?: string) =>
    fetch(`${host.baseUrl}/api/allocate/explain`, {
      method: 'POST',
      headers: {
        'x-functions-key': 'fk',
        'content-type': 'application/json',
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: JSON.stringify(request),
    });
  expect((await post()).status).toBe(401);
  expect((await post('dev-acme-tpm-secret-not-a-secret')).status).toBe(403);
  const res = await post('dev-admin-secret-not-a-secret');
  expect(res.status).toBe(200);
  const body = (await res.json()) as {
    outcome: string;
    rule: string;
    candidates: Array<{ hostName: string; score?: number; skipped?: string }>;
  };
  expect(body).toMatchObject({
    outcome: 'allocate',
    rule: 'eu-devices',
    response: { iotHubHostName: 'hub-eu-1.azure-devices.net' },
  });
  expect(body.candidates).toEqual([
    { hostName: 'hub-eu-1.azure-devices.net', score: expect.any(Number) },
    { hostName: 'hub-eu-2.azure-devices.net', skipped: 'not linked to this registration (DPS linkedHubs)' },
  ]);
});

test('malformed calls get a 400 with the reason, never a 500', async () => {
  const post = (body: string) => fetch(`${host.baseUrl}/api/allocate?code=fk`, { method: 'POST', body });
  for (const [body, reason] of [
    ['{', /not JSON/],
    ['{"deviceRuntimeContext":{"registrationId":"x"},"linkedHubs":[],"enrollmentGroup":{}}', /linkedHubs/],
    [
      '{"deviceRuntimeContext":{"registrationId":"x"},"linkedHubs":["hub-eu-1.azure-devices.net"],"enrollmentGroup":{}}',
      /\/enrollmentGroup must have required property 'enrollmentGroupId'/,
    ],
  ] as const) {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { reason: string }).reason).toMatch(reason);
  }
  // Over 128 KB: 413 before it is parsed, whether the length is declared or the body is streamed without one.
  const big = JSON.stringify({ padding: 'x'.repeat(200 * 1024) });
  const declared = await post(big);
  expect(declared.status).toBe(413);
  expect(await declared.json()).toMatchObject({
    error: 'PayloadTooLarge',
    reason: expect.stringMatching(/131072 bytes/),
  });
  const streamed = await fetch(`${host.baseUrl}/api/allocate?code=fk`, {
    method: 'POST',
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < 40; i++) controller.enqueue(new TextEncoder().encode(' '.repeat(8192)));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  expect(streamed.status).toBe(413);
});

test('the policy file is hot-reloaded; an invalid edit keeps the last good policy', async () => {
  const doc = JSON.parse(readFileSync(policyFile, 'utf8'));
  doc.rules[0].pool = 'eu';
  writeFileSync(policyFile, JSON.stringify(doc));
  const later = new Date(Date.now() + 60_000);
  utimesSync(policyFile, later, later); // a new mtime, whatever the file system's timestamp resolution
  await runtime.refreshPolicy();
  expect((await register('us-thermostat-2', { region: 'us' })).assignedHub).toMatch(/hub-eu-/);

  writeFileSync(policyFile, '{"id": "broken"}');
  const laterStill = new Date(Date.now() + 120_000);
  utimesSync(policyFile, laterStill, laterStill); // read, refused, and the last good policy kept
  await runtime.refreshPolicy();
  expect((await register('us-thermostat-3', { region: 'us' })).assignedHub).toMatch(/hub-eu-/);
});

test('every decision is an event in the log: registration ID, hub, rule, latency', async () => {
  await runtime.events.flush();
  const events = readFileSync(stack.env.EVENT_LOG_PATH, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(events).toContainEqual(
    expect.objectContaining({
      type: 'allocation.allocate',
      subject: 'us-thermostat-1',
      data: expect.objectContaining({
        hub: 'hub-us-1.azure-devices.net',
        rule: 'us-devices',
        latencyMs: expect.any(Number),
      }),
    }),
  );
  expect(events).toContainEqual(
    expect.objectContaining({
      type: 'allocation.deny',
      subject: 'eu-meter-7',
      data: expect.objectContaining({ revoked: { kind: 'registrationId', value: 'eu-meter-7', incidentId: 'inc-42' } }),
    }),
  );
});
