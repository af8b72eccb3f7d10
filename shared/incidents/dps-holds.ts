/**
 * What an incident disables in DPS, each held first (holds.ts): a device's individual enrollment, a block of its
 * own for a device of a group left enabled, a whole group, and the group that disallows a compromised CA. Safe to do
 * again: each write under an etag re-reads after a 412 (etag-writes.ts), a put with no etag writes the same thing
 * again, and each change is recorded once under an id of its own — also when a share stopped between the change and
 * its record, which the next share knows from the hold (this incident held it first, and found it enabled) or from
 * the incident's name in what it wrote. DPS unreachable past the retries is named (UnreachableError): the step waits.
 */
import { randomBytes } from 'node:crypto';

import { audit } from '../audit';
import type { EnrollmentGroup, IndividualEnrollment } from '../dps-types';
import { ConflictError } from '../errors';
import { actorOf, dateOf, type IncidentDeps, lower, millis, onceFor } from './deps';
import { createOrJudge, writeUnderEtag } from './etag-writes';
import { callsTo, DPS } from './outage-wait';
import { type Hold, holdId, type Restore } from './repositories';
import type { CompromisedCa } from './rules/resolution';
import { disallowGroupId } from './rules/target-actions';

/** Whether this incident disabled the thing a hold is about: it held it first, and found it enabled then. */
const disabledByUs = (hold: Hold, incidentId: string, restore: Restore['type']) =>
  hold.holders[0] === incidentId && hold.restore?.type === restore;

/** The incident's individual enrollment disabled (a device of a group gets a disabled enrollment of its own). */
export async function disableEnrollment(
  deps: IncidentDeps,
  incidentId: string,
  registrationId: string,
  blockIfAbsent: boolean,
  /** Run again on what another writer enrolled between the read and the block (once). */
  again = false,
): Promise<void> {
  const dps = await deps.enrollments();
  const holds = await deps.holds();
  const r = callsTo(deps, DPS).call;
  const store = await deps.store();
  const recordBlock = () =>
    audit(
      store,
      {
        actor: actorOf(incidentId),
        action: 'blockGroupDevice',
        target: { kind: 'enrollment', id: registrationId },
        before: null,
        after: { provisioningStatus: 'disabled', blockedByIncident: incidentId },
      },
      dateOf(deps),
      onceFor(deps, incidentId, 'enrollment', lower(registrationId), 'blocked'),
    );
  const existing = await r(() => dps.getEnrollment(registrationId));
  const blockedBy = existing?.initialTwin?.tags?.blockedByIncident;
  if (blockedBy) {
    // Another incident's block: hold it too, so that its release does not lift it from under this one. This one's
    // own (a share that stopped before recording it): recorded now, once.
    await holds.acquire(
      holdId.block(registrationId),
      incidentId,
      { type: 'deleteBlock', registrationId },
      millis(deps),
    );
    if (blockedBy === incidentId) await recordBlock();
    return;
  }
  if (existing) {
    const enabled = existing.provisioningStatus !== 'disabled';
    const hold = await holds.acquire(
      holdId.enrollment(registrationId),
      incidentId,
      enabled ? { type: 'enableEnrollment', registrationId } : undefined,
      millis(deps),
    );
    const record = (after?: IndividualEnrollment) =>
      audit(
        store,
        {
          actor: actorOf(incidentId),
          action: 'disableEnrollment',
          target: { kind: 'enrollment', id: existing.registrationId },
          before: { provisioningStatus: 'enabled', ...(enabled ? { etag: existing.etag } : {}) },
          after: { provisioningStatus: 'disabled', ...(after ? { etag: after.etag } : {}) },
        },
        dateOf(deps),
        onceFor(deps, incidentId, 'enrollment', lower(registrationId), 'disabled'),
      );
    // Disabled already: by this incident in a share that stopped before its record (recorded now), or by another.
    if (!enabled) return disabledByUs(hold, incidentId, 'enableEnrollment') ? record() : undefined;
    const after = await writeUnderEtag(
      r,
      existing,
      (e) => dps.putEnrollment({ ...e, provisioningStatus: 'disabled' }),
      () => dps.getEnrollment(registrationId),
      (e) => e.provisioningStatus === 'disabled',
    );
    if (after) await record(after);
    return;
  }
  if (!blockIfAbsent) return; // its enrollment is gone already
  // One device of a group: DPS checks individual enrollments first, so a disabled one under its ID shuts it out.
  // A put with no etag, a create: sent again after a lost answer, Azure answers 409 and what DPS holds is judged (our
  // block: done); the local DPS writes the same block again.
  await holds.acquire(holdId.block(registrationId), incidentId, { type: 'deleteBlock', registrationId }, millis(deps));
  const key = () => randomBytes(32).toString('base64');
  const made = await createOrJudge(
    r,
    () =>
      dps.putEnrollment({
        registrationId,
        provisioningStatus: 'disabled',
        attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key(), secondaryKey: key() } },
        initialTwin: { tags: { blockedByIncident: incidentId } },
      }),
    () => dps.getEnrollment(registrationId),
    (e) => e.initialTwin?.tags?.blockedByIncident === incidentId,
  );
  if ('taken' in made) {
    // Enrolled by another since the read: disabled as found (its release leaves a block it did not write alone).
    if (again) throw new ConflictError(`enrollment ${registrationId} keeps changing under the incident`, 409);
    return disableEnrollment(deps, incidentId, registrationId, blockIfAbsent, true);
  }
  await recordBlock();
}

export async function disableGroup(deps: IncidentDeps, incidentId: string, enrollmentGroupId: string) {
  const dps = await deps.enrollments();
  const r = callsTo(deps, DPS).call;
  const group = await r(() => dps.getGroup(enrollmentGroupId));
  if (!group) return;
  const enabled = group.provisioningStatus !== 'disabled';
  const hold = await (
    await deps.holds()
  ).acquire(
    holdId.group(enrollmentGroupId),
    incidentId,
    enabled ? { type: 'enableGroup', enrollmentGroupId } : undefined,
    millis(deps),
  );
  const record = async (after?: EnrollmentGroup) =>
    audit(
      await deps.store(),
      {
        actor: actorOf(incidentId),
        action: 'disableEnrollmentGroup',
        target: { kind: 'enrollmentGroup', id: group.enrollmentGroupId },
        before: { provisioningStatus: 'enabled', ...(enabled ? { etag: group.etag } : {}) },
        after: { provisioningStatus: 'disabled', ...(after ? { etag: after.etag } : {}) },
      },
      dateOf(deps),
      onceFor(deps, incidentId, 'group', lower(enrollmentGroupId), 'disabled'),
    );
  if (!enabled) return disabledByUs(hold, incidentId, 'enableGroup') ? record() : undefined;
  const after = await writeUnderEtag(
    r,
    group,
    (g) => dps.putGroup({ ...g, provisioningStatus: 'disabled' }),
    () => dps.getGroup(enrollmentGroupId),
    (g) => g.provisioningStatus === 'disabled',
  );
  if (after) await record(after);
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
  ).acquire(
    holdId.disallow(ca.sha256Thumbprint),
    incidentId,
    { type: 'deleteDisallowGroup', enrollmentGroupId },
    millis(deps),
  );
  const dps = await deps.enrollments();
  const r = callsTo(deps, DPS).call;
  const record = async (before: EnrollmentGroup | undefined) =>
    audit(
      await deps.store(),
      {
        actor: actorOf(incidentId),
        action: 'disallowCa',
        target: { kind: 'enrollmentGroup', id: enrollmentGroupId },
        before: before ? { provisioningStatus: before.provisioningStatus } : null,
        after: { provisioningStatus: 'disabled', caThumbprint: ca.sha256Thumbprint, caSubject: ca.subject },
      },
      dateOf(deps),
      onceFor(deps, incidentId, 'disallow', lower(enrollmentGroupId)),
    );
  const existing = await r(() => dps.getGroup(enrollmentGroupId));
  if (existing?.provisioningStatus === 'disabled') {
    // Another incident's, or this one's from a share that stopped before its record (recorded now, once).
    if (existing.initialTwin?.tags?.disallowedByIncident === incidentId) await record(undefined);
    return;
  }
  if (!ca.pem) return; // known only by thumbprint: held, but there is nothing this incident could write
  const pem = ca.pem;
  const disallow = (current: EnrollmentGroup | undefined) =>
    dps.putGroup({
      ...(current ?? {}),
      enrollmentGroupId,
      provisioningStatus: 'disabled',
      attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: pem } } } },
      initialTwin: { tags: { disallowedByIncident: incidentId, disallowedCa: ca.subject ?? ca.sha256Thumbprint } },
    });
  const read = () => dps.getGroup(enrollmentGroupId);
  const disabled = (g: EnrollmentGroup) => g.provisioningStatus === 'disabled';
  // Made anew — no etag, a create: sent again after a lost answer, Azure answers 409 and what DPS holds is judged
  // (ours: done) — or an enabled one changed under its etag.
  let found = existing;
  if (!found) {
    const made = await createOrJudge(
      r,
      () => disallow(undefined),
      read,
      (g) => g.initialTwin?.tags?.disallowedByIncident === incidentId,
    );
    if ('written' in made) return record(undefined);
    if (disabled(made.taken)) return; // another incident's disallow group, made since the read: held
    found = made.taken;
  }
  const written = await writeUnderEtag(r, found, disallow, read, disabled);
  if (written) await record(found);
}
