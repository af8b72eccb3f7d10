/**
 * Containment survives a failure half-way: the hub throttles, the worker gives up mid-step (as a crash would), and
 * the next run resumes from the checkpoint in the incident document — every device removed, none twice.
 */
import { deriveDeviceKey, registerSymmetricKeyDevice } from '../../dev/device';
import { CONTAINERS } from '../../shared/containers';
import { ThrottledError } from '../../shared/errors';
import { lazyServices } from '../../shared/composition';
import { runIncident, submitIncident, type IncidentDeps, type StepState } from '../../shared/use-cases/incidents';
import { startTestStack, type TestStack } from '../support/stack';

let stack: TestStack;
const HUB = 'hub-eu-1.azure-devices.net';

beforeAll(async () => {
  // 100 registry operations a second in bursts of one second: one bulk call of 100 passes, the next must wait.
  stack = await startTestStack({ withStorage: true, quotas: { registryOpsPerMinutePerUnit: 6000, burstSeconds: 1 } });
});
afterAll(async () => { await stack?.close(); });

test('a containment interrupted by throttling resumes from its checkpoint and deletes nothing twice', async () => {
  const group = await stack.services.enrollments.putGroup({ enrollmentGroupId: 'recall-lot', attestation: { type: 'symmetricKey' }, allocationPolicy: 'static', iotHubHostName: HUB });
  const ids = Array.from({ length: 150 }, (_, i) => `recall-${i}`);
  for (let i = 0; i < ids.length; i += 15) {
    await Promise.all(ids.slice(i, i + 15).map((id) => registerSymmetricKeyDevice(stack.env, id, deriveDeviceKey(group.attestation.symmetricKey?.primaryKey as string, id))));
  }
  expect((await stack.services.hubs.hub(HUB).statistics()).totalDeviceCount).toBe(150);
  await new Promise((r) => setTimeout(r, 1100)); // let the registry bucket refill

  const deps: IncidentDeps = { ...lazyServices(stack.env), retry: { attempts: 1 } }; // give up at the first 429
  await submitIncident(deps, { id: 'inc-recall', reason: 'lot recalled', mode: 'contain', scope: { enrollmentGroupId: 'recall-lot' } });
  await expect(runIncident(deps, 'inc-recall')).rejects.toBeInstanceOf(ThrottledError);

  const incidents = stack.services.store.container(CONTAINERS.incidents.name);
  const halfway = await incidents.read('inc-recall', 'inc-recall');
  const hubStep = (halfway?.steps as StepState[]).find((s) => s.name === 'hub');
  expect(hubStep).toMatchObject({ state: 'running', done: 100, total: 150 });
  expect((await stack.services.hubs.hub(HUB).statistics()).totalDeviceCount).toBe(50);

  await new Promise((r) => setTimeout(r, 1100));
  const done = await runIncident({ ...deps, retry: { attempts: 5 } }, 'inc-recall');
  expect(done?.status).toBe('contained');
  expect((await stack.services.hubs.hub(HUB).statistics()).totalDeviceCount).toBe(0);
  const deletions = await stack.services.store.container(CONTAINERS.audit.name).query('SELECT c.target.id AS id FROM c WHERE c.actor = @a AND c.action = @d', { '@a': 'incident:inc-recall', '@d': 'deleteDevice' }, { maxItems: 1000 });
  expect(deletions.items.map((d) => d.id).sort()).toEqual([...ids].sort());
});
