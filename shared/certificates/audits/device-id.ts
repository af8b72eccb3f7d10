/**
 * Audit: two individual enrollments that give one device ID (an enrollment's explicit `deviceId`, or another's
 * registration ID, which is the device ID when none is given) — both would provision into the same hub identity.
 * Only enrollments with an explicit, different `deviceId` can collide, so only they are tracked: a claim document
 * per such device ID (a DeviceIdClaimRepository), and one DPS read for the registration ID of the same name. Raised once.
 */
import type { IndividualEnrollment } from '../../dps-types';
import { type FindingBase, raiseOnce } from '../../findings';
import type { DocumentStore, EnrollmentsPort, EventsPort } from '../../ports';
import { retryIdempotent, type RetryOptions } from '../../retry';
import type { DeviceIdClaimRepository } from '../reconcile-store';

export interface DeviceIdFinding extends FindingBase {
  kind: 'audit';
  code: 'DEVICE_ID_SHARED';
  reason: string;
  deviceId: string;
  registrationIds: string[];
  raisedAt: string;
}

export async function auditDeviceIds(
  store: DocumentStore,
  claims: DeviceIdClaimRepository,
  dps: EnrollmentsPort,
  events: EventsPort | undefined,
  enrollments: IndividualEnrollment[],
  now: Date,
  retry?: RetryOptions,
): Promise<string[]> {
  const raised: string[] = [];
  for (const e of enrollments) {
    const deviceId = e.deviceId?.trim();
    if (!deviceId || deviceId.toLowerCase() === e.registrationId.toLowerCase()) continue;
    const claim = await claims.read(deviceId);
    const registrationIds = [...new Set([...(claim?.registrationIds ?? []), e.registrationId.toLowerCase()])].sort();
    if (!claim || claim.registrationIds.length !== registrationIds.length) await claims.save(deviceId, registrationIds);
    const namesake = await retryIdempotent(() => dps.getEnrollment(deviceId), retry);
    const sharing =
      namesake && !namesake.deviceId ? [...registrationIds, namesake.registrationId.toLowerCase()] : registrationIds;
    if (sharing.length < 2) continue;
    const finding: DeviceIdFinding = {
      id: `audit.DEVICE_ID_SHARED.${deviceId.toLowerCase()}`,
      kind: 'audit',
      code: 'DEVICE_ID_SHARED',
      deviceId,
      registrationIds: sharing,
      raisedAt: now.toISOString(),
      reason: `enrollments ${sharing.join(', ')} all provision device ID ${deviceId}`,
    };
    if (
      await raiseOnce(store, events, finding, {
        type: 'enrollment.audit',
        subject: deviceId,
        data: { code: finding.code, reason: finding.reason, registrationIds: sharing },
      })
    )
      raised.push(deviceId);
  }
  return raised;
}
