/**
 * Containment in Azure Device Registry over in-memory repositories and a scripted registry: registry devices disabled
 * with holds (the last holder enables them again, a device disabled before stays so), a CA revoked and rotated at most
 * once whatever answers are lost (the CA is read again first), each change audited once, and the release saying the
 * rotation is not undone.
 */
import { randomUUID } from 'node:crypto';

import type {
  DeviceRegistryPort,
  RegistryCertificateAuthority,
  RegistryDevice,
  RegistryEnablement,
} from '../../../shared/certificates';
import { CONTAINERS } from '../../../shared/containers';
import { TransientError } from '../../../shared/errors';
import { releaseRegistryDevices, runAdrDevices } from '../../../shared/incidents/adr-devices';
import { releaseRotation, runAdrRotate } from '../../../shared/incidents/adr-rotate';
import type { IncidentDeps } from '../../../shared/incidents/deps';
import { holdId } from '../../../shared/incidents/repositories';
import { type Incident, newIncident, type StepState, type Target } from '../../../shared/incidents/rules/model';
import { CosmosHoldRepository } from '../../../shared/incidents/store/hold-repository';
import { CosmosIncidentRepository } from '../../../shared/incidents/store/incident-repository';
import { MemoryStore } from '../../support/memory-store';

const partitionKeys = Object.fromEntries(Object.values(CONTAINERS).map((c) => [c.name, c.partitionKeyPath]));
const NS = 'fleet-ns';

/** An ADR that can lose the answer to a call it applied (`loseAfter`) or before it (`loseBefore`). */
class ScriptedRegistry implements DeviceRegistryPort {
  devices = new Map<string, RegistryEnablement>();
  ca: RegistryCertificateAuthority = {
    namespaceName: NS,
    name: 'ica-1',
    type: 'ICA',
    subject: 'CN=ica-1',
    notBefore: '2026-01-01T00:00:00.000Z',
    notAfter: '2031-01-01T00:00:00.000Z',
    provisioningState: 'Succeeded',
  };
  rotations = 0;
  posts = 0;
  patches = 0;
  loseAfter = new Set<string>();
  loseBefore = new Set<string>();

  private lose(what: string, when: 'before' | 'after') {
    const set = when === 'before' ? this.loseBefore : this.loseAfter;
    if (set.delete(what)) throw new TransientError(`${what}: connection reset (${when} it was applied)`, undefined);
  }

  async certificateAuthorities() {
    return [this.ca];
  }
  async certificateAuthority(_ns: string, name: string) {
    return name === this.ca.name ? { ...this.ca } : undefined;
  }
  async certificatePolicies() {
    return [];
  }
  async certificatePolicy() {
    return undefined;
  }
  async registryDevice(namespaceName: string, name: string): Promise<RegistryDevice | undefined> {
    const state = this.devices.get(name);
    return state && { namespaceName, name, enablementState: state };
  }
  async setDeviceEnablement(_ns: string, name: string, state: RegistryEnablement) {
    this.patches++;
    this.lose(`patch ${name}`, 'before');
    this.devices.set(name, state);
    this.lose(`patch ${name}`, 'after');
  }
  async revokeAndRotate() {
    this.posts++;
    this.lose('rotate', 'before');
    this.rotations++;
    this.ca = {
      ...this.ca,
      notBefore: `2026-0${this.rotations + 1}-01T00:00:00.000Z`,
      notAfter: `2031-0${this.rotations + 1}-01T00:00:00.000Z`,
    };
    this.lose('rotate', 'after');
  }
}

function setup() {
  const store = new MemoryStore(partitionKeys);
  const registry = new ScriptedRegistry();
  const incidents = new CosmosIncidentRepository(store);
  const holds = new CosmosHoldRepository(store);
  const deps = {
    incidents: async () => incidents,
    holds: async () => holds,
    store: async () => store,
    events: async () => ({ publish: async () => undefined }),
    deviceRegistry: async () => registry,
    adrNamespace: NS,
    clock: { now: () => new Date('2026-11-25T10:00:00Z') },
    jobPollMs: 1,
  } as unknown as IncidentDeps;
  const audits = () =>
    store
      .container(CONTAINERS.audit.name)
      .query('SELECT * FROM c')
      .then(
        (p) => p.items as unknown as Array<{ action: string; target: { id: string }; actor: string; after?: unknown }>,
      );
  return { store, registry, incidents, holds, deps, audits };
}

const progress = (total: number) => ({ state: 'running' as const, done: 0, total, page: 0, offset: 0, errors: [] });

async function incidentWith(
  { incidents }: ReturnType<typeof setup>,
  id: string,
  steps: StepState[],
  targets: Target[] = [],
): Promise<Incident> {
  const request = { id, reason: 'leak', mode: 'quarantine' as const, scope: { deviceIds: ['x'] } };
  const incident = newIncident(request, 'admin', 'http', '2026-11-25T00:00:00Z');
  incident.status = 'running';
  incident.steps = steps;
  incident.resolution = { ...incident.resolution, phase: 'done', pages: targets.length ? 1 : 0 };
  await incidents.create(incident);
  if (targets.length) await incidents.putTargets(id, 0, targets);
  return (await incidents.get(id)) as Incident;
}

const target = (deviceId: string): Target => ({ registrationId: deviceId, deviceId, hub: 'hub-1', via: 'group' });
const FAR = Number.MAX_SAFE_INTEGER;

test('registry devices are disabled where DPS made them, each held and audited once, a lost answer read again', async () => {
  const s = setup();
  s.registry.devices.set('dev-1', 'Enabled');
  s.registry.devices.set('dev-2', 'Disabled'); // disabled before any incident: held, put back by nobody
  s.registry.loseAfter.add('patch dev-1'); // ADR applies the PATCH, the answer is lost
  const steps: StepState[] = [{ kind: 'adrDevices', namespaceName: NS, ...progress(3) }];
  const targets = [target('dev-1'), target('dev-2'), target('no-adr-device')];
  let incident = await incidentWith(s, 'inc-a', steps, targets);

  // Past the share's tries for lost answers (here: one), the share fails after the PATCH landed; the step runs again
  // from its checkpoint and reads the device first.
  s.deps.retry = { transientAttempts: 1 };
  await expect(runAdrDevices(s.deps, incident, 0, FAR)).rejects.toThrow(/connection reset/);
  incident = (await s.incidents.get('inc-a')) as Incident;
  expect(await runAdrDevices(s.deps, incident, 0, FAR)).toBe(true);

  expect(s.registry.devices.get('dev-1')).toBe('Disabled');
  expect(s.registry.patches).toBe(1); // not sent again: it was disabled already
  const audits = await s.audits();
  expect(audits.map((a) => `${a.action} ${a.target.id}`)).toEqual([`disableRegistryDevice ${NS}/dev-1`]);
  const step = ((await s.incidents.get('inc-a')) as Incident).steps![0];
  expect(step).toMatchObject({ done: 3, errors: [] });

  // A second incident holds dev-1 too: the first's release does not enable it; the second's does. dev-2 stays off.
  const other = await incidentWith(s, 'inc-b', steps, [target('dev-1')]);
  await runAdrDevices(s.deps, other, 0, FAR);
  await releaseRegistryDevices(s.deps, (await s.incidents.get('inc-a')) as Incident, targets, 'admin', FAR);
  expect(s.registry.devices.get('dev-1')).toBe('Disabled');
  await releaseRegistryDevices(s.deps, (await s.incidents.get('inc-b')) as Incident, [target('dev-1')], 'admin', FAR);
  expect(s.registry.devices.get('dev-1')).toBe('Enabled');
  expect(s.registry.devices.get('dev-2')).toBe('Disabled');
  // Released twice: nothing more happens, nothing audited twice.
  await releaseRegistryDevices(s.deps, (await s.incidents.get('inc-b')) as Incident, [target('dev-1')], 'admin', FAR);
  expect((await s.audits()).map((a) => `${a.action} ${a.target.id}`).sort()).toEqual([
    `disableRegistryDevice ${NS}/dev-1`,
    `enableRegistryDevice ${NS}/dev-1`,
  ]);
});

test('a release stopped before the registry device was enabled enables it when run again, audited once', async () => {
  const s = setup();
  s.registry.devices.set('dev-1', 'Enabled');
  const steps: StepState[] = [{ kind: 'adrDevices', namespaceName: NS, ...progress(1) }];
  const incident = await incidentWith(s, 'inc-h', steps, [target('dev-1')]);
  await runAdrDevices(s.deps, incident, 0, FAR);
  expect(s.registry.devices.get('dev-1')).toBe('Disabled');
  // The hold let go, then ADR unreachable for the PATCH past the share's tries: the release stops there.
  s.deps.retry = { transientAttempts: 1 };
  s.registry.loseBefore.add('patch dev-1');
  const ran = (await s.incidents.get('inc-h')) as Incident;
  await expect(releaseRegistryDevices(s.deps, ran, [target('dev-1')], 'admin', FAR)).rejects.toThrow(/connection/);
  expect(s.registry.devices.get('dev-1')).toBe('Disabled');
  await releaseRegistryDevices(s.deps, ran, [target('dev-1')], 'admin', FAR);
  await releaseRegistryDevices(s.deps, ran, [target('dev-1')], 'admin', FAR);
  expect(s.registry.devices.get('dev-1')).toBe('Enabled');
  expect((await s.audits()).map((a) => a.action).sort()).toEqual(['disableRegistryDevice', 'enableRegistryDevice']);
  expect(await s.holds.acquire(holdId.registryDevice(NS, 'dev-1'), 'inc-i', undefined, 0)).toMatchObject({
    holders: ['inc-i'],
  });
});

const rotateStep = (): StepState => ({
  kind: 'adrRotate',
  namespaceName: NS,
  certificateAuthorityName: 'ica-1',
  certificatePolicy: `${NS}/ica-1/policy-1`,
  ...progress(1),
});

test('a registry device PATCH whose answer is lost is sent again within the share (it sets a state: safe to repeat), audited once', async () => {
  const s = setup();
  s.deps.retry = { transientBaseDelayMs: 1 };
  s.registry.devices.set('dev-1', 'Enabled');
  s.registry.loseAfter.add('patch dev-1');
  const steps: StepState[] = [{ kind: 'adrDevices', namespaceName: NS, ...progress(1) }];
  const incident = await incidentWith(s, 'inc-s', steps, [target('dev-1')]);
  expect(await runAdrDevices(s.deps, incident, 0, FAR)).toBe(true);
  expect(s.registry.devices.get('dev-1')).toBe('Disabled');
  expect(s.registry.patches).toBe(2);
  expect((await s.audits()).map((a) => `${a.action} ${a.target.id}`)).toEqual([`disableRegistryDevice ${NS}/dev-1`]);
});

test('revokeAndRotate: the answer lost after ADR rotated — read again, not sent twice, audited once', async () => {
  const s = setup();
  s.registry.loseAfter.add('rotate');
  const incident = await incidentWith(s, 'inc-r', [rotateStep()]);
  await expect(runAdrRotate(s.deps, incident, 0, FAR)).rejects.toThrow(/connection reset/);
  const again = (await s.incidents.get('inc-r')) as Incident;
  expect(again.steps![0]).toMatchObject({
    requestedAt: expect.any(String),
    before: { notBefore: '2026-01-01T00:00:00.000Z' },
  });
  expect(await runAdrRotate(s.deps, again, 0, FAR)).toBe(true);
  expect(s.registry.posts).toBe(1);
  expect(s.registry.rotations).toBe(1);
  const done = (await s.incidents.get('inc-r')) as Incident;
  expect(done.steps![0]).toMatchObject({ rotatedAt: expect.any(String), done: 1, errors: [] });
  // Run once more (a redelivered message): nothing is asked of ADR.
  expect(await runAdrRotate(s.deps, done, 0, FAR)).toBe(true);
  expect(s.registry.posts).toBe(1);
  const audits = await s.audits();
  expect(audits.map((a) => a.action)).toEqual(['revokeAndRotate']);
  expect(audits[0].after).toMatchObject({ irreversible: true, notBefore: '2026-02-01T00:00:00.000Z' });
});

test('revokeAndRotate: the request lost before ADR saw it — the CA unchanged, so it is asked again, once', async () => {
  const s = setup();
  s.registry.loseBefore.add('rotate');
  const incident = await incidentWith(s, 'inc-l', [rotateStep()]);
  await expect(runAdrRotate(s.deps, incident, 0, FAR)).rejects.toThrow(/connection reset/);
  expect(s.registry.rotations).toBe(0);
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-l')) as Incident, 0, FAR)).toBe(true);
  expect([s.registry.posts, s.registry.rotations]).toEqual([2, 1]);
});

test('a rotation under way is waited out, within the share: past the deadline the step says there is more', async () => {
  const s = setup();
  s.registry.ca = { ...s.registry.ca, provisioningState: 'Updating' };
  const incident = await incidentWith(s, 'inc-w', [rotateStep()]);
  // The deadline has passed: the step stops before asking anything.
  expect(await runAdrRotate(s.deps, incident, 0, 0)).toBe(false);
  expect(s.registry.posts).toBe(0);
  setTimeout(() => (s.registry.ca = { ...s.registry.ca, provisioningState: 'Succeeded' }), 20);
  expect(await runAdrRotate(s.deps, (await s.incidents.get('inc-w')) as Incident, 0, FAR)).toBe(true);
  expect(s.registry.rotations).toBe(1);
});

test('release lets go of the rotation and says, in the audit and the notes, that it is not undone', async () => {
  const s = setup();
  const incident = await incidentWith(s, 'inc-u', [rotateStep()]);
  await runAdrRotate(s.deps, incident, 0, FAR);
  const ran = (await s.incidents.get('inc-u')) as Incident;
  expect(await s.holds.acquire(holdId.rotation(NS, 'ica-1'), 'inc-u', undefined, 0)).toMatchObject({
    holders: ['inc-u'],
  });
  await releaseRotation(s.deps, ran, 'admin-2');
  await releaseRotation(s.deps, ran, 'admin-2'); // done again after a crash: once in the audit and the notes
  const released = (await s.incidents.get('inc-u')) as Incident;
  expect(released.notes.filter((n) => /cannot be undone/.test(n))).toHaveLength(1);
  expect((await s.audits()).map((a) => a.action)).toEqual(['revokeAndRotate', 'revokeAndRotateNotUndone']);
  expect(s.registry.rotations).toBe(1); // nothing was put back, nothing rotated again
  // The hold is gone: another incident acquiring it starts a new one.
  expect(await s.holds.acquire(holdId.rotation(NS, 'ica-1'), randomUUID(), undefined, 0)).toMatchObject({
    holders: [expect.any(String)],
  });
});
