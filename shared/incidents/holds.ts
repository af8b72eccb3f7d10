/**
 * Disabling with a hold, and lifting a hold. Each thing an incident disables is held by every incident that needs
 * it: the first records what lifting will put back (nothing, when it was disabled before any incident touched it),
 * and only the last holder to let go puts it back. Every change is audited with what it was before.
 */
import { randomBytes } from 'node:crypto';

import { audit } from '../audit';
import type { HubDevice } from '../dps-types';
import { actorOf, type IncidentDeps, lower, withRetry } from './deps';
import { holdId, type Restore } from './repositories';
import type { CompromisedCa } from './rules/model';
import { disallowGroupId } from './rules/plan';

/** The incident's individual enrollment disabled (a device of a group gets a disabled enrollment of its own). */
export async function disableEnrollment(
  deps: IncidentDeps,
  incidentId: string,
  registrationId: string,
  blockIfAbsent: boolean,
) {
  const dps = await deps.enrollments();
  const holds = await deps.holds();
  const r = withRetry(deps);
  const store = await deps.store();
  const existing = await r(() => dps.getEnrollment(registrationId));
  if (existing?.initialTwin?.tags?.blockedByIncident) {
    // Another incident's block: hold it too, so that its release does not lift it from under this one.
    await holds.acquire(holdId.block(registrationId), incidentId, { type: 'deleteBlock', registrationId });
    return;
  }
  if (existing) {
    const enabled = existing.provisioningStatus !== 'disabled';
    await holds.acquire(
      holdId.enrollment(registrationId),
      incidentId,
      enabled ? { type: 'enableEnrollment', registrationId } : undefined,
    );
    if (!enabled) return;
    const after = await r(() => dps.putEnrollment({ ...existing, provisioningStatus: 'disabled' }));
    await audit(store, {
      actor: actorOf(incidentId),
      action: 'disableEnrollment',
      target: { kind: 'enrollment', id: existing.registrationId },
      before: { provisioningStatus: existing.provisioningStatus, etag: existing.etag },
      after: { provisioningStatus: after.provisioningStatus, etag: after.etag },
    });
    return;
  }
  if (!blockIfAbsent) return; // its enrollment is gone already
  // One device of a group: DPS checks individual enrollments first, so a disabled one under its ID shuts it out.
  await holds.acquire(holdId.block(registrationId), incidentId, { type: 'deleteBlock', registrationId });
  const key = () => randomBytes(32).toString('base64');
  await r(() =>
    dps.putEnrollment({
      registrationId,
      provisioningStatus: 'disabled',
      attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key(), secondaryKey: key() } },
      initialTwin: { tags: { blockedByIncident: incidentId } },
    }),
  );
  await audit(store, {
    actor: actorOf(incidentId),
    action: 'blockGroupDevice',
    target: { kind: 'enrollment', id: registrationId },
    before: null,
    after: { provisioningStatus: 'disabled', blockedByIncident: incidentId },
  });
}

export async function disableGroup(deps: IncidentDeps, incidentId: string, enrollmentGroupId: string) {
  const dps = await deps.enrollments();
  const r = withRetry(deps);
  const group = await r(() => dps.getGroup(enrollmentGroupId));
  if (!group) return;
  const enabled = group.provisioningStatus !== 'disabled';
  await (
    await deps.holds()
  ).acquire(
    holdId.group(enrollmentGroupId),
    incidentId,
    enabled ? { type: 'enableGroup', enrollmentGroupId } : undefined,
  );
  if (!enabled) return;
  const after = await r(() => dps.putGroup({ ...group, provisioningStatus: 'disabled' }));
  await audit(await deps.store(), {
    actor: actorOf(incidentId),
    action: 'disableEnrollmentGroup',
    target: { kind: 'enrollmentGroup', id: group.enrollmentGroupId },
    before: { provisioningStatus: group.provisioningStatus, etag: group.etag },
    after: { provisioningStatus: after.provisioningStatus, etag: after.etag },
  });
}

/**
 * DPS told to refuse every chain that holds the compromised CA, as Microsoft documents it: a *disabled* enrollment
 * group holding the CA's certificate. A certificate in a disabled entry fails every registration that uses it, even
 * where an enabled group above it would admit the device. One group per CA, held by every incident that needs it.
 */
export async function disallowCa(deps: IncidentDeps, incidentId: string, ca: CompromisedCa): Promise<void> {
  if (!ca.sha256Thumbprint || (!ca.pem && !ca.disallowedInDps)) return;
  const enrollmentGroupId = disallowGroupId(ca.sha256Thumbprint);
  await (
    await deps.holds()
  ).acquire(holdId.disallow(ca.sha256Thumbprint), incidentId, { type: 'deleteDisallowGroup', enrollmentGroupId });
  const dps = await deps.enrollments();
  const r = withRetry(deps);
  const existing = await r(() => dps.getGroup(enrollmentGroupId));
  if (existing?.provisioningStatus === 'disabled') return; // another incident's, or this one's before a crash
  if (!ca.pem) return; // known only by thumbprint: held, but there is nothing this incident could write
  const group = await r(() =>
    dps.putGroup({
      ...(existing ?? {}),
      enrollmentGroupId,
      provisioningStatus: 'disabled',
      attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: ca.pem } } } },
      initialTwin: { tags: { disallowedByIncident: incidentId, disallowedCa: ca.subject ?? ca.sha256Thumbprint } },
    }),
  );
  await audit(await deps.store(), {
    actor: actorOf(incidentId),
    action: 'disallowCa',
    target: { kind: 'enrollmentGroup', id: group.enrollmentGroupId },
    before: existing ? { provisioningStatus: existing.provisioningStatus } : null,
    after: { provisioningStatus: 'disabled', caThumbprint: ca.sha256Thumbprint, caSubject: ca.subject },
  });
}

/** Hub devices disabled in one bulk call, each held; answers the errors the hub gave. */
export async function disableHubDevices(deps: IncidentDeps, incidentId: string, hubName: string, deviceIds: string[]) {
  const hub = (await deps.hubs()).hub(hubName);
  const holds = await deps.holds();
  const r = withRetry(deps);
  const found = (await Promise.all(deviceIds.map((id) => r(() => hub.getDevice(id))))).filter(
    (d): d is HubDevice => !!d,
  );
  await Promise.all(
    found.map((d) =>
      holds.acquire(
        holdId.device(hubName, d.deviceId),
        incidentId,
        d.status !== 'disabled' ? { type: 'enableDevice', hub: hubName, deviceId: d.deviceId } : undefined,
      ),
    ),
  );
  const enabled = found.filter((d) => d.status !== 'disabled');
  if (enabled.length === 0) return [];
  const result = await r(() =>
    hub.bulkDevices(
      'update',
      enabled.map((d) => ({ ...d, status: 'disabled', statusReason: `incident ${incidentId}` })),
    ),
  );
  const failed = new Set(result.errors.map((e) => lower(e.deviceId)));
  const store = await deps.store();
  for (const d of enabled.filter((d) => !failed.has(lower(d.deviceId))))
    await audit(store, {
      actor: actorOf(incidentId),
      action: 'disableDevice',
      target: { kind: 'device', id: d.deviceId, hub: hubName },
      before: { status: d.status, etag: d.etag },
      after: { status: 'disabled' },
    });
  return result.errors.map((e) => `${hubName}/${e.deviceId}: ${e.errorCode} ${e.errorStatus}`);
}

/** Lets go of one hold; if no other incident holds the thing, puts back what the first holder changed. */
export async function releaseHold(deps: IncidentDeps, incidentId: string, id: string, by: string): Promise<void> {
  const lifted = await (await deps.holds()).release(id, incidentId);
  if (lifted?.restore) await restore(deps, lifted.restore, `release:${incidentId} by ${by}`);
}

async function restore(deps: IncidentDeps, what: Restore, actor: string): Promise<void> {
  const dps = await deps.enrollments();
  const r = withRetry(deps);
  const store = await deps.store();
  switch (what.type) {
    case 'enableEnrollment': {
      const e = await r(() => dps.getEnrollment(what.registrationId));
      if (!e || e.provisioningStatus !== 'disabled') return;
      await r(() => dps.putEnrollment({ ...e, provisioningStatus: 'enabled' }));
      return audit(store, {
        actor,
        action: 'enableEnrollment',
        target: { kind: 'enrollment', id: e.registrationId },
        before: { provisioningStatus: 'disabled' },
        after: { provisioningStatus: 'enabled' },
      });
    }
    case 'deleteBlock': {
      const e = await r(() => dps.getEnrollment(what.registrationId));
      if (!e?.initialTwin?.tags?.blockedByIncident) return; // not our block: leave it
      await r(() => dps.deleteEnrollment(what.registrationId));
      return audit(store, {
        actor,
        action: 'deleteBlock',
        target: { kind: 'enrollment', id: what.registrationId },
        before: { provisioningStatus: e.provisioningStatus },
        after: null,
      });
    }
    case 'enableGroup': {
      const g = await r(() => dps.getGroup(what.enrollmentGroupId));
      if (!g || g.provisioningStatus !== 'disabled') return;
      await r(() => dps.putGroup({ ...g, provisioningStatus: 'enabled' }));
      return audit(store, {
        actor,
        action: 'enableEnrollmentGroup',
        target: { kind: 'enrollmentGroup', id: g.enrollmentGroupId },
        before: { provisioningStatus: 'disabled' },
        after: { provisioningStatus: 'enabled' },
      });
    }
    case 'deleteDisallowGroup': {
      const g = await r(() => dps.getGroup(what.enrollmentGroupId));
      if (!g?.initialTwin?.tags?.disallowedByIncident) return; // not our disallow: leave it
      await r(() => dps.deleteGroup(what.enrollmentGroupId));
      return audit(store, {
        actor,
        action: 'allowCa',
        target: { kind: 'enrollmentGroup', id: what.enrollmentGroupId },
        before: { provisioningStatus: g.provisioningStatus },
        after: null,
      });
    }
    case 'enableDevice': {
      const hub = (await deps.hubs()).hub(what.hub);
      const d = await r(() => hub.getDevice(what.deviceId));
      if (!d || d.status !== 'disabled') return;
      await r(() => hub.putDevice({ ...d, status: 'enabled', statusReason: undefined }));
      return audit(store, {
        actor,
        action: 'enableDevice',
        target: { kind: 'device', id: d.deviceId, hub: what.hub },
        before: { status: 'disabled' },
        after: { status: 'enabled' },
      });
    }
  }
}
