/**
 * The pure judgements containment makes of answers that may speak of its own earlier try: IoT Hub's per-device
 * answers to a bulk call sent again, a device read back after an etag mismatch, how long a step waits for a hub that
 * stays down, which hub job is its own; and a checkpoint or a deny entry whose answer was lost is not applied twice.
 */
import type { DenyEntry } from '../../../shared/allocation/rules/deny-list';
import { CONTAINERS } from '../../../shared/containers';
import { ConflictError } from '../../../shared/errors';
import { disabledReason, judgeBulkAnswer, judgeDisabled } from '../../../shared/incidents/rules/hub-answers';
import { hubJobContainer, isStepsJob } from '../../../shared/incidents/rules/hub-job-container';
import { newIncident } from '../../../shared/incidents/rules/model';
import { afterOutage, OUTAGE_LONGEST_WAIT_MS, soonestEnd } from '../../../shared/incidents/rules/outage';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosDenyListRepository } from '../../../shared/incidents/store/deny-list-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import type { HubJob } from '../../../shared/ports';
import { MemoryStore } from '../../support/memory-store';

const error = (deviceId: string, errorCode: string) => ({
  deviceId,
  errorCode,
  errorStatus: `${errorCode} for ${deviceId}`,
});

test('a bulk answer: applied, absent (and whether an earlier try lost its answer), recheck on an etag, or failed', () => {
  const ids = ['dev-a', 'Dev-B', 'dev-c', 'dev-d', 'dev-e'];
  const errors = [
    error('dev-b', 'DeviceNotFound'),
    error('DEV-C', '412001'),
    error('dev-d', 'ThrottlingBacklogTimeout'),
    error('dev-e', '404001'),
    error('not-in-the-batch', 'DeviceNotFound'),
  ];
  const afterLoss = judgeBulkAnswer(ids, errors, true);
  expect([...afterLoss]).toEqual([
    ['dev-a', { outcome: 'applied' }],
    ['dev-b', { outcome: 'absent', answerLost: true }],
    ['dev-c', { outcome: 'recheck' }],
    ['dev-d', { outcome: 'failed', reason: 'ThrottlingBacklogTimeout ThrottlingBacklogTimeout for dev-d' }],
    ['dev-e', { outcome: 'absent', answerLost: true }],
  ]);
  // The first try of a call: a device not found was never there as far as this call knows.
  expect(judgeBulkAnswer(['dev-b'], [error('dev-b', 'DeviceNotFound')], false).get('dev-b')).toEqual({
    outcome: 'absent',
    answerLost: false,
  });
  expect(judgeBulkAnswer(['x'], [], false).get('x')).toEqual({ outcome: 'applied' });
});

test('a device read back after an etag mismatch: ours only when disabled with this incident’s reason', () => {
  const device = { deviceId: 'd', etag: '"2"' };
  expect(judgeDisabled({ ...device, status: 'disabled', statusReason: disabledReason('inc-1') }, 'inc-1')).toBe('ours');
  expect(judgeDisabled({ ...device, status: 'disabled', statusReason: disabledReason('inc-2') }, 'inc-1')).toBe(
    'disabledByOther',
  );
  expect(judgeDisabled({ ...device, status: 'disabled', statusReason: null }, 'inc-1')).toBe('disabledByOther');
  expect(judgeDisabled({ ...device, status: 'enabled' }, 'inc-1')).toBe('enabled');
  expect(judgeDisabled(undefined, 'inc-1')).toBe('gone');
});

test('a hub that stays down is waited for, longer each time, then given up on, saying what is left', () => {
  const t0 = Date.parse('2026-11-25T10:00:00Z');
  const first = afterOutage(undefined, t0, 'connection lost: socket hang up', '40 of 40 devices left', 600_000);
  expect(first).toEqual({
    wait: {
      since: '2026-11-25T10:00:00.000Z',
      until: '2026-11-25T10:00:05.000Z',
      tries: 1,
      reason: 'connection lost: socket hang up',
    },
  });
  let previous = 'wait' in first ? first.wait : undefined;
  const delays: number[] = [];
  for (let t = t0 + 5_000; t < t0 + 600_000;) {
    const next = afterOutage(previous, t, 'still down', 'left', 600_000);
    if (!('wait' in next)) break;
    delays.push(Date.parse(next.wait.until) - t);
    previous = next.wait;
    t = Date.parse(next.wait.until);
  }
  expect(delays.slice(0, 4)).toEqual([10_000, 20_000, 40_000, 60_000]);
  expect(Math.max(...delays)).toBe(OUTAGE_LONGEST_WAIT_MS);
  expect(previous?.since).toBe('2026-11-25T10:00:00.000Z'); // one outage, however many shares met it
  expect(afterOutage(previous, t0 + 600_000, 'still down', '12 of 40 devices left on hub-1', 600_000)).toEqual({
    giveUp: expect.stringMatching(
      /^unreachable since 2026-11-25T10:00:00.000Z \(600 s, \d+ tries; the last: still down\); 12 of 40 devices left on hub-1$/,
    ),
  });
});

test('the next share comes when the first wait ends, and at once when some step is not waiting', () => {
  const now = Date.parse('2026-11-25T10:00:00Z');
  const wait = (s: number) => ({ since: '', until: new Date(now + s * 1000).toISOString(), tries: 1, reason: '' });
  expect(soonestEnd([wait(20), wait(5)], now)).toBe(5_000);
  expect(soonestEnd([wait(20), undefined], now)).toBeUndefined();
  expect(soonestEnd([wait(-3)], now)).toBe(0);
  expect(soonestEnd([], now)).toBeUndefined();
});

test('a hub job is the step’s own only by its whole input URL (query aside), as an import, taken since the step began', () => {
  const container = hubJobContainer('inc-1', 'hub-eu-1.azure-devices.net');
  const ours = `https://acct.blob.core.windows.net/${container}`;
  const began = '2026-11-25T10:00:00.000Z';
  const job = (over: Partial<HubJob> = {}): HubJob => ({
    jobId: 'j',
    status: 'completed',
    type: 'import',
    inputBlobContainerUri: `${ours}?sv=2024&sig=x`,
    startTimeUtc: '2026-11-25T10:00:01.000Z',
    ...over,
  });
  expect(isStepsJob(job(), `${ours}?sv=2025&sig=y`, began)).toBe(true); // another SAS on the same container
  expect(isStepsJob(job({ inputBlobContainerUri: `${ours}/` }), ours, began)).toBe(true);
  expect(isStepsJob(job({ startTimeUtc: began }), ours, began)).toBe(true);
  // From the attacker's side: the same container name elsewhere, another scheme, an export, a job from before.
  expect(
    isStepsJob(job({ inputBlobContainerUri: `https://evil.blob.core.windows.net/${container}` }), ours, began),
  ).toBe(false);
  expect(
    isStepsJob(job({ inputBlobContainerUri: `https://acct.blob.core.windows.net/x/${container}` }), ours, began),
  ).toBe(false);
  expect(
    isStepsJob(job({ inputBlobContainerUri: `http://acct.blob.core.windows.net/${container}` }), ours, began),
  ).toBe(false);
  expect(isStepsJob(job({ type: 'export' }), ours, began)).toBe(false);
  expect(isStepsJob(job({ type: undefined }), ours, began)).toBe(false);
  expect(isStepsJob(job({ startTimeUtc: '2026-11-25T09:59:59.999Z' }), ours, began)).toBe(false);
  expect(isStepsJob(job({ startTimeUtc: undefined }), ours, began)).toBe(false);
  expect(isStepsJob(job(), ours, undefined)).toBe(false);
  expect(isStepsJob(job({ inputBlobContainerUri: undefined }), ours, began)).toBe(false);
  expect(isStepsJob(job({ inputBlobContainerUri: 'not a url' }), ours, began)).toBe(false);
});

test('a checkpoint whose answer was lost is not applied again when its retry meets 412', async () => {
  const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
  const store = new MemoryStore(partitionKeys);
  const repo = new CosmosIncidentRepository(store);
  const request = { id: 'inc-l', reason: 'r', mode: 'contain' as const, scope: { enrollmentGroupId: 'g' } };
  await repo.create({
    ...newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z'),
    steps: [{ kind: 'registrations', state: 'running', done: 0, total: 30, page: 0, offset: 0, errors: [] }],
  });
  // The store applies the replace, then the answer is lost and its own retry meets 412 (the etag moved).
  const container = store.container(CONTAINERS.incidents.name);
  const realReplace = container.replace.bind(container);
  let lost = 0;
  container.replace = async (doc) => {
    const written = await realReplace(doc);
    if (lost++ === 0) throw new ConflictError('precondition failed (the retry of a write whose answer was lost)', 412);
    return written;
  };
  // A relative change: applied twice it would count 20.
  const after = await repo.update('inc-l', (i) => {
    const s = (i.steps as StepState[])[0];
    s.done += 10;
    s.errors.push('one error');
    return i;
  });
  expect(after?.steps?.[0]).toMatchObject({ done: 10, errors: ['one error'] });
  expect((await repo.get('inc-l'))?.steps?.[0]).toMatchObject({ done: 10, errors: ['one error'] });
  expect(lost).toBe(1);
});

test('a deny entry whose create lost its answer is this incident’s own: added once, not taken as another’s', async () => {
  const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
  const store = new MemoryStore(partitionKeys);
  const container = store.container(CONTAINERS.denyList.name);
  const realCreate = container.create.bind(container);
  let lost = 0;
  container.create = async (doc) => {
    await realCreate(doc);
    if (lost++ === 0) throw new ConflictError('conflict (the retry of a create whose answer was lost)', 409);
    return doc;
  };
  const denyList = new CosmosDenyListRepository(store);
  const entry = (value: string): DenyEntry => ({ kind: 'registrationId', value, reason: 'leak', incidentId: 'inc-a' });
  expect((await denyList.hold([entry('a')], 'inc-a')).map((e) => e.value)).toEqual(['a']);
  // Another incident's create of the same identity stays another's.
  expect(await denyList.hold([entry('a')], 'inc-b')).toEqual([]);
});
