/**
 * Review finding 6, from the attacker's side: a registry device is found by a *derived* name (registryDeviceName:
 * every character an ARM name refuses made '-', short names padded with '0', cut at 63), so containing `line_7` found
 * the innocent `line-7`'s and disabled it. Now a registry device whose `externalDeviceId` names another device is left
 * alone and the step records an error; one naming this device (or naming none) is disabled. The first case is the
 * reviewer's, kept asserting that the attack fails.
 */
import type { DeviceRegistryPort, RegistryDevice, RegistryEnablement } from '../../../shared/certificates';
import { CONTAINERS } from '../../../shared/containers';
import { runAdrDevices } from '../../../shared/incidents/adr-devices';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { holdId } from '../../../shared/incidents/repositories';
import { type Incident, newIncident } from '../../../shared/incidents/rules/model';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';
import { adrSetup, incidentWith, NS, progress } from '../../support/scripted-registry';

test('a registry device whose externalDeviceId is another device is not disabled', async () => {
  const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
  const store = new MemoryStore(partitionKeys);
  const incidents = new CosmosIncidentRepository(store);
  const holds = new CosmosHoldRepository(store);
  // ADR holds one registry device: the innocent `line-7`'s.
  const devices = new Map<string, { state: RegistryEnablement; externalDeviceId: string }>([
    ['line-7', { state: 'Enabled', externalDeviceId: 'line-7' }],
  ]);
  const registry = {
    registryDevice: async (ns: string, name: string): Promise<RegistryDevice | undefined> => {
      const d = devices.get(name);
      return d && { namespaceName: ns, name, enablementState: d.state, externalDeviceId: d.externalDeviceId };
    },
    setDeviceEnablement: async (_ns: string, name: string, state: RegistryEnablement) => {
      devices.get(name)!.state = state;
    },
  } as unknown as DeviceRegistryPort;
  const deps = {
    incidents: async () => incidents,
    holds: async () => holds,
    store: async () => store,
    deviceRegistry: async () => registry,
    adrNamespace: 'ns-1',
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
  } as unknown as IncidentDeps;
  const request = { id: 'inc-n', reason: 'leak', mode: 'quarantine' as const, scope: { deviceIds: ['line_7'] } };
  const incident = newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z');
  incident.status = 'running';
  incident.steps = [
    {
      kind: 'adrDevices',
      namespaceName: 'ns-1',
      state: 'running',
      done: 0,
      total: 1,
      page: 0,
      offset: 0,
      errors: [],
    } as StepState,
  ];
  incident.resolution = { ...incident.resolution, phase: 'done', pages: 1 };
  await incidents.create(incident);
  await incidents.putTargets('inc-n', 0, [
    { registrationId: 'line_7', deviceId: 'line_7', hub: 'hub-1', via: 'group' },
  ]);
  await runAdrDevices(deps, (await incidents.get('inc-n'))!, 0, Number.MAX_SAFE_INTEGER);
  // Before the fix: the innocent line-7 was Disabled.
  expect(devices.get('line-7')!.state).toBe('Enabled');
  const step = (await incidents.get('inc-n'))!.steps![0];
  expect(step.errors).toEqual([
    expect.stringMatching(/ns-1\/line-7: not disabled — this registry device is line-7's, not line_7's/),
  ]);
  expect((await store.container(CONTAINERS.audit.name).query('SELECT * FROM c')).items).toEqual([]);
  expect(await holds.acquire(holdId.registryDevice('ns-1', 'line-7'), 'inc-other', undefined, 0)).toMatchObject({
    holders: ['inc-other'],
  });
});

test('a registry device naming this very device, or naming none, is disabled; IDs compared exactly (case too)', async () => {
  const s = adrSetup();
  s.registry.devices.set('dev-a', 'Enabled');
  s.registry.externalIds.set('dev-a', 'dev-a');
  s.registry.devices.set('dev-b', 'Enabled'); // no externalDeviceId shown: the name is all there is
  s.registry.devices.set('dev-c', 'Enabled');
  s.registry.externalIds.set('dev-c', 'Dev-C'); // hub device IDs are case-sensitive: another device
  const steps: StepState[] = [{ kind: 'adrDevices', namespaceName: NS, ...progress(3) }];
  const targets = ['dev-a', 'dev-b', 'dev-c'].map((d) => ({
    registrationId: d,
    deviceId: d,
    hub: 'hub-1',
    via: 'group' as const,
  }));
  const incident = await incidentWith(s, 'inc-m', steps, targets);
  expect(await runAdrDevices(s.deps, incident, 0, Number.MAX_SAFE_INTEGER)).toBe(true);
  expect([...s.registry.devices]).toEqual([
    ['dev-a', 'Disabled'],
    ['dev-b', 'Disabled'],
    ['dev-c', 'Enabled'],
  ]);
  const step = ((await s.incidents.get('inc-m')) as Incident).steps![0];
  expect(step.errors).toEqual([expect.stringMatching(/dev-c: not disabled — this registry device is Dev-C's/)]);
});
