/**
 * Containment survives a failure half-way: the hub throttles, the worker gives up mid-step (as a crash would), and
 * the next share resumes from the checkpoint in the incident — every device removed, none twice. Large scopes go
 * by IoT Hub import job, which waits out another job's 403 JobQuotaExceeded and is followed, not restarted.
 */
import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../../dev/device';
import { incidentRepositories, lazyServices } from '../../../shared/composition';
import { CONTAINERS } from '../../../shared/containers';
import { ThrottledError } from '../../../shared/errors';
import { advanceIncident, decideIncident, type IncidentDeps, submitIncident } from '../../../shared/incidents';
import type { Incident } from '../../../shared/incidents/rules/model';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { manualClock } from '../../support/manual-clock';
import { startTestStack, type TestStack } from '../../support/stack';

let stack: TestStack;
const HUB = 'hub-eu-1.azure-devices.net';
// The registry quota refills only when the test moves this clock: the 429 below is met on every machine, at any speed.
const clock = manualClock();
/** Devices on the hub, read from the simulator itself so that counting them spends no quota. */
const devicesOnHub = () => stack.simulator.state.hubs.get(HUB)?.devices.size;

beforeAll(async () => {
  // 100 registry operations a second in bursts of one second: one bulk call of 100 passes, the next must wait.
  stack = await startTestStack({
    withStorage: true,
    clock: clock.millis,
    quotas: { registryOpsPerMinutePerUnit: 6000, burstSeconds: 1 },
  });
});
afterAll(async () => {
  await stack?.close();
});

const depsOf = (extra: Partial<IncidentDeps> = {}): IncidentDeps => {
  const lazy = lazyServices(stack.env);
  return { ...lazy, ...incidentRepositories(lazy), ...extra };
};
const ADMIN = { principal: 'test admin', source: 'http' as const };
/** Plans that disable a group are approved by an admin other than their submitter. */
const SECOND_ADMIN = 'second admin';

/** Runs shares of the incident's work until it needs nothing more (what the queue trigger does, message by message). */
async function advanceToEnd(deps: IncidentDeps, id: string): Promise<Incident | undefined> {
  for (;;) {
    const { incident, more } = await advanceIncident(deps, id);
    if (!more) return incident;
  }
}

test('a containment interrupted by throttling resumes from its checkpoint and deletes nothing twice', async () => {
  const group = await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'recall-lot',
    attestation: { type: 'symmetricKey' },
    allocationPolicy: 'static',
    iotHubHostName: HUB,
  });
  const ids = Array.from({ length: 150 }, (_, i) => `recall-${i}`);
  for (let i = 0; i < ids.length; i += 15) {
    await Promise.all(
      ids
        .slice(i, i + 15)
        .map((id) =>
          registerSymmetricKeyDevice(
            stack.env,
            id,
            deriveDeviceKey(group.attestation.symmetricKey?.primaryKey as string, id),
          ),
        ),
    );
  }
  expect(devicesOnHub()).toBe(150);

  const deps = depsOf({ retry: { attempts: 1 } }); // give up at the first 429
  await submitIncident(
    deps,
    {
      id: 'inc-recall',
      reason: 'lot recalled',
      mode: 'contain',
      scope: { enrollmentGroupId: 'recall-lot' },
    },
    ADMIN,
  );
  // 150 devices is more than an admin's incident runs without approval: it stops at its plan.
  expect((await advanceToEnd(deps, 'inc-recall'))?.status).toBe('awaitingApproval');
  expect(devicesOnHub()).toBe(150);
  // Planning read the devices' connection state (registry queries, which the local hubs charge to the same bucket):
  // a full bucket from here, exactly one bulk call of 100.
  clock.advance(1000);
  expect((await decideIncident(deps, 'inc-recall', 'approve', SECOND_ADMIN)).kind).toBe('done');
  await expect(advanceIncident(deps, 'inc-recall')).rejects.toBeInstanceOf(ThrottledError);

  const halfway = await (await deps.incidents()).get('inc-recall');
  const hubStep = halfway?.steps?.find((s) => s.kind === 'hub');
  expect(hubStep).toMatchObject({ state: 'running', done: 100, total: 150 });
  expect(halfway?.lease).toBeUndefined(); // a failed share lets go of the incident
  expect(devicesOnHub()).toBe(50);

  clock.advance(1000);
  const done = await advanceToEnd(deps, 'inc-recall');
  expect(done?.status).toBe('contained');
  expect(devicesOnHub()).toBe(0);
  const deletions = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query(
      'SELECT c.target.id AS id FROM c WHERE c.actor = @a AND c.action = @d',
      { '@a': 'incident:inc-recall', '@d': 'deleteDevice' },
      { maxItems: 1000 },
    );
  expect(deletions.items.map((d) => d.id).sort()).toEqual([...ids].sort());
});

test('a scope beyond the bulk threshold is deleted by an IoT Hub import job, which a resumed worker follows instead of starting again', async () => {
  const group = await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'big-lot',
    attestation: { type: 'symmetricKey' },
    allocationPolicy: 'static',
    iotHubHostName: HUB,
  });
  const ids = Array.from({ length: 30 }, (_, i) => `big-${i}`);
  for (let i = 0; i < ids.length; i += 15) {
    await Promise.all(
      ids
        .slice(i, i + 15)
        .map((id) =>
          registerSymmetricKeyDevice(
            stack.env,
            id,
            deriveDeviceKey(group.attestation.symmetricKey?.primaryKey as string, id),
          ),
        ),
    );
  }
  clock.advance(60_000); // the second test starts with a full bucket, whatever the first left
  const before = devicesOnHub() as number;
  // Above 20 devices on a hub, containment takes the import-job path.
  const deps = depsOf({ importJobThreshold: 20, jobPollMs: 50 });
  await submitIncident(
    deps,
    {
      id: 'inc-big',
      reason: 'lot key leaked',
      mode: 'contain',
      scope: { enrollmentGroupId: 'big-lot' },
    },
    ADMIN,
  );
  expect((await advanceToEnd(deps, 'inc-big'))?.status).toBe('awaitingApproval');
  await decideIncident(deps, 'inc-big', 'approve', SECOND_ADMIN);
  // Another import job already running on the hub: IoT Hub refuses ours with 403 JobQuotaExceeded until it ends.
  const blobs = await deps.blobs!();
  await blobs.put('other-job', 'devices.txt', JSON.stringify({ id: 'not-there', importMode: 'delete' }));
  const ref = await blobs.containerForHub('other-job');
  const other = await stack.services.hubs.hub(HUB).startImportJob(ref, ref);
  await expect(stack.services.hubs.hub(HUB).startImportJob(ref, ref)).rejects.toMatchObject({
    name: 'JobQuotaExceededError',
    status: 403,
  });

  const done = await advanceToEnd(deps, 'inc-big');
  expect(done?.status).toBe('contained');
  expect((await stack.services.hubs.hub(HUB).getJob(other.jobId))?.status).toBe('completed');
  const hubStep = done?.steps?.find((s) => s.kind === 'hub');
  expect(hubStep).toMatchObject({ path: 'importJob', state: 'done', done: 30, total: 30, jobId: expect.any(String) });
  expect(devicesOnHub()).toBe(before - 30);
  for (const id of ids) expect(await stack.services.hubs.hub(HUB).getDevice(id)).toBeUndefined();

  // A worker resumed after the job (a re-delivered message at the hub step) follows the same job and records nothing twice.
  await (
    await deps.incidents()
  ).update('inc-big', (i) => ({
    ...i,
    status: 'running',
    steps: (i.steps as StepState[]).map((s) => (s.kind === 'hub' ? { ...s, state: 'running', done: 0 } : s)),
  }));
  const resumed = await advanceToEnd(deps, 'inc-big');
  expect(resumed?.status).toBe('contained');
  expect(resumed?.steps?.find((s) => s.kind === 'hub')).toMatchObject({ jobId: (hubStep as { jobId: string }).jobId });
  const deletions = await stack.services.store
    .container(CONTAINERS.audit.name)
    .query(
      'SELECT c.target.id AS id FROM c WHERE c.actor = @a AND c.action = @d',
      { '@a': 'incident:inc-big', '@d': 'deleteDevice' },
      { maxItems: 1000 },
    );
  expect(deletions.items.map((d) => d.id).sort()).toEqual([...ids].sort());
});

test('an incident cancelled before its worker ran is never planned or run, and lets go of its deny entries', async () => {
  const deps = depsOf();
  // Small and submitted by an admin: it would run at once if the cancel were lost.
  await submitIncident(
    deps,
    { id: 'inc-cancel', reason: 'false alarm', mode: 'contain', scope: { registrationIds: ['recall-never'] } },
    ADMIN,
  );
  const denyDoc = () =>
    stack.services.store.container(CONTAINERS.denyList.name).read('registrationId:recall-never', 'registrationId');
  expect(await denyDoc()).toMatchObject({ holders: ['inc-cancel'] });
  expect((await decideIncident(deps, 'inc-cancel', 'cancel', 'test admin')).kind).toBe('done');
  const ended = await advanceToEnd(deps, 'inc-cancel');
  expect(ended).toMatchObject({ status: 'cancelled', cancelledBy: 'test admin' });
  expect(ended?.plan).toBeUndefined();
  expect(ended?.steps).toBeUndefined();
  expect(await denyDoc()).toBeUndefined();
});
