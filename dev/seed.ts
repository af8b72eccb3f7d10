/**
 * The local demo: an enrollment group with custom allocation pointing at the local webhook (its function key in the
 * URL, as DPS needs it), made through the production DPS adapter. Idempotent: re-seeding only fixes the webhook URL.
 */
import type { EnrollmentsPort } from '../shared/ports';

export const DEMO_GROUP_ID = 'demo-custom-allocation';

export async function seedDemo(
  enrollments: EnrollmentsPort,
  webhookUrl: string,
): Promise<{ groupId: string; primaryKey: string }> {
  const existing = await enrollments.getGroup(DEMO_GROUP_ID);
  const group =
    existing?.customAllocationDefinition?.webhookUrl === webhookUrl
      ? existing
      : await enrollments.putGroup({
          ...(existing ?? {}),
          enrollmentGroupId: DEMO_GROUP_ID,
          attestation: existing?.attestation ?? { type: 'symmetricKey' },
          allocationPolicy: 'custom',
          customAllocationDefinition: { webhookUrl, apiVersion: '2021-10-01' },
          reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
          initialTwin: {
            tags: { environment: 'local-demo' },
            properties: { desired: { telemetryIntervalSeconds: 60 } },
          },
        });
  return { groupId: DEMO_GROUP_ID, primaryKey: group.attestation.symmetricKey?.primaryKey as string };
}
