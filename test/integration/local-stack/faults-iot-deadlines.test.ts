/**
 * Our DPS and IoT Hub adapters (shared/azure/dps.ts, hub.ts) when a call stalls: the IoT SDKs would wait for ever,
 * the adapters abandon the call at its deadline with a TransientError (the answer lost, the call perhaps applied),
 * destroy its request instead of leaving it hanging, and the shared retry rule tries a read again.
 *
 * The deadline here is 1 s (a bulk write 2 s), and a stall never answers: whatever the machine's speed, the stalled
 * call is abandoned and the next one, unstalled, answers long before its own deadline.
 */
import type { Agent } from 'node:https';

import { NO_FAULTS } from '../../../dev/faults/plan';
import { dpsClient, DpsEnrollments } from '../../../shared/azure/dps';
import { hubRegistry, IotHubRegistry } from '../../../shared/azure/hub';
import { iotTransport, type TransportOptions } from '../../../shared/azure/transport';
import { TransientError } from '../../../shared/errors';
import { retryIdempotent } from '../../../shared/retry';
import { startTestStack, type TestStack } from '../../support/stack';

const DEADLINES = { deadlineMs: 1000 };
const HUB = 'hub-eu-1.azure-devices.net';
let stack: TestStack;
let transport: TransportOptions;
let dps: DpsEnrollments;
let hub: IotHubRegistry;

beforeAll(async () => {
  stack = await startTestStack({ faults: NO_FAULTS });
  transport = iotTransport(stack.env) as TransportOptions;
  dps = new DpsEnrollments(dpsClient({ connectionString: stack.env.DPS_CONNECTION_STRING }, transport, DEADLINES));
  const cs = stack.env.IOTHUB_CONNECTION_STRINGS.split(',').find((c) => c.includes(HUB)) as string;
  hub = new IotHubRegistry(HUB, hubRegistry({ connectionString: cs }, transport, DEADLINES));
});
afterEach(() => {
  stack.faults?.set(NO_FAULTS);
  stack.faults?.resetCounts();
});
afterAll(async () => {
  await stack?.close();
});

const faults = () => stack.faults as NonNullable<TestStack['faults']>;
const EK = Buffer.alloc(316, 7).toString('base64');
const tpm = (registrationId: string) => ({ registrationId, attestation: { type: 'tpm', tpm: { endorsementKey: EK } } });

/** Sockets the agent still holds for a request under way that are not destroyed: a request left hanging. */
const hanging = (agent: Agent) =>
  Object.values(agent.sockets)
    .flat()
    .filter((s) => s && !s.destroyed).length;

test('a DPS read that stalls is abandoned at its deadline, its request destroyed, and tried again', async () => {
  await dps.putEnrollment(tpm('stalled-read') as never);
  faults().set({ rules: [{ service: 'dps', operation: 'getEnrollment', calls: [1], fault: { kind: 'stall' } }] });

  // What every read of ours does: through retryIdempotent, which tries a TransientError again.
  const abandoned: Array<{ message: string; hanging: number }> = [];
  const read = await retryIdempotent(() => dps.getEnrollment('stalled-read'), {
    transientBaseDelayMs: 1,
    onTransient: (_wait, _attempt, err) => abandoned.push({ message: err.message, hanging: hanging(transport.agent) }),
  });
  expect(read?.registrationId).toBe('stalled-read');
  // No request is left waiting for the answer that never comes: its socket was destroyed.
  expect(abandoned).toEqual([{ message: 'GET /enrollments/stalled-read: no answer within 1000 ms', hanging: 0 }]);
  expect(faults().calls('dps', 'getEnrollment')).toBe(2);
  expect(faults().summary()).toBe('injected 1 fault: dps 1 stall');
});

test('a DPS bulk create that stalls after it was applied: abandoned at the bulk deadline, DPS holds every enrollment', async () => {
  faults().set({
    rules: [{ service: 'dps', operation: 'bulkEnrollments', calls: [1], fault: { kind: 'stall', afterApply: true } }],
  });
  const ids = ['stalled-bulk-0', 'stalled-bulk-1', 'stalled-bulk-2'];
  const lost = dps.bulkEnrollments('create', ids.map(tpm) as never);
  await expect(lost).rejects.toBeInstanceOf(TransientError);
  await expect(lost).rejects.toThrow(/^POST \/enrollments\/?: no answer within 2000 ms$/);
  expect(ids.map((id) => stack.simulator.state.enrollments.has(id))).toEqual([true, true, true]);
  // Sent again, as the import's chunk worker does: each row answers "already exists", for the caller to judge.
  const again = await dps.bulkEnrollments('create', ids.map(tpm) as never);
  expect(again.errors.map((e) => [e.registrationId, e.errorCode])).toEqual(ids.map((id) => [id, 409201]));
});

test('an IoT Hub query and bulk delete that stall are abandoned at their deadlines; the delete was applied', async () => {
  await hub.bulkDevices(
    'create',
    ['st-0', 'st-1'].map((deviceId) => ({ deviceId, authentication: { type: 'sas' } })),
  );
  faults().set({
    rules: [
      { service: 'iothub', operation: 'queryTwins', calls: [1], fault: { kind: 'stall' } },
      { service: 'iothub', operation: 'bulkDevices', calls: [1], fault: { kind: 'stall', afterApply: true } },
    ],
  });
  await expect(hub.queryTwins('SELECT * FROM devices', 10)).rejects.toThrow(
    /^POST \/devices\/query: no answer within 1000 ms$/,
  );
  const removal = hub.bulkDevices('delete', [{ deviceId: 'st-0' }, { deviceId: 'st-1' }]);
  await expect(removal).rejects.toBeInstanceOf(TransientError);
  await expect(removal).rejects.toThrow(/^POST \/devices: no answer within 2000 ms$/);
  expect(hanging(transport.agent)).toBe(0);
  expect(stack.simulator.state.hubs.get(HUB)?.devices.has('st-0')).toBe(false);
  // The next calls answer: the abandoned connections took nothing else down with them.
  expect((await hub.queryTwins("SELECT * FROM devices WHERE deviceId = 'st-1'", 10)).items).toEqual([]);
  expect(faults().summary()).toBe('injected 2 faults: iothub 2 stall');
});
