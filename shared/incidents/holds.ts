/**
 * Lifting a hold. Each thing an incident disables is held by every incident that needs it (dps-holds.ts,
 * hub-devices.ts): the first records what lifting will put back (nothing, when it was disabled before any incident
 * touched it), and only the last holder to let go puts it back. Every change is audited with what it was before.
 */
import { audit } from '../audit';
import type { EnrollmentGroup, IndividualEnrollment } from '../dps-types';
import { NotFoundError } from '../errors';
import { type IncidentDeps, withRetry } from './deps';
import { writeUnderEtag } from './etag-writes';
import { type Restore } from './repositories';

/** Lets go of one hold; if no other incident holds the thing, puts back what the first holder changed. */
export async function releaseHold(deps: IncidentDeps, incidentId: string, id: string, by: string): Promise<void> {
  const lifted = await (await deps.holds()).release(id, incidentId);
  if (lifted?.restore) await restore(deps, lifted.restore, `release:${incidentId} by ${by}`);
}

/** A delete sent again after a lost answer finds nothing: the first try deleted it. */
const goneIsDone = (err: unknown) => {
  if (!(err instanceof NotFoundError)) throw err;
};

async function restore(deps: IncidentDeps, what: Restore, actor: string): Promise<void> {
  const dps = await deps.enrollments();
  const r = withRetry(deps);
  const store = await deps.store();
  switch (what.type) {
    case 'enableEnrollment': {
      const e = await r(() => dps.getEnrollment(what.registrationId));
      if (!e || e.provisioningStatus !== 'disabled') return;
      const enabled = (x: IndividualEnrollment) => x.provisioningStatus === 'enabled';
      const read = () => dps.getEnrollment(what.registrationId);
      await writeUnderEtag(r, e, (x) => dps.putEnrollment({ ...x, provisioningStatus: 'enabled' }), read, enabled);
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
      await r(() => dps.deleteEnrollment(what.registrationId)).catch(goneIsDone);
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
      const enabled = (x: EnrollmentGroup) => x.provisioningStatus === 'enabled';
      const read = () => dps.getGroup(what.enrollmentGroupId);
      await writeUnderEtag(r, g, (x) => dps.putGroup({ ...x, provisioningStatus: 'enabled' }), read, enabled);
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
      await r(() => dps.deleteGroup(what.enrollmentGroupId)).catch(goneIsDone);
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
