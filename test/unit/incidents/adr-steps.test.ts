/**
 * Containment in Azure Device Registry over in-memory repositories and a scripted registry: registry devices disabled
 * with holds (the last holder enables them again, a device disabled before stays so), each change audited once. The
 * rotation's own tests are in adr-rotate.test.ts.
 */
import { releaseRegistryDevices, runAdrDevices } from '../../../shared/incidents/adr-devices';
import { holdId } from '../../../shared/incidents/repositories';
import type { Incident } from '../../../shared/incidents/rules/model';
import type { Target } from '../../../shared/incidents/rules/resolution';
import type { StepState } from '../../../shared/incidents/rules/step-state';
import { adrSetup as setup, incidentWith, NS, progress } from '../../support/scripted-registry';

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
