/**
 * From a checked row to the DPS individual enrollment, and what an existing enrollment under the same registration
 * ID means for the row. Tags carry who made the device and which import enrolled it, so a retried import knows its
 * own work (enrolled) from a device that was there before (alreadyEnrolled) and from someone else's (refused).
 */
import { ISSUING_DPS_API_VERSION } from '../../certificate-policy';
import type { CustomAllocationDefinition, IndividualEnrollment } from '../../dps-types';
import type { ValidRow } from './row';

export interface EnrollmentTags {
  manufacturer: string;
  importJob: string;
  line: number;
  lot?: string;
  model?: string;
  serialNumber?: string;
  /** The maker's extra columns, kept apart so they can never overwrite ours. */
  maker?: Record<string, string>;
}

export function enrollmentOf(
  row: ValidRow,
  manufacturerId: string,
  jobId: string,
  allocation?: CustomAllocationDefinition,
): IndividualEnrollment {
  const tags: EnrollmentTags = {
    manufacturer: manufacturerId,
    importJob: jobId,
    line: row.line,
    ...(row.lot ? { lot: row.lot } : {}),
    ...(row.model ? { model: row.model } : {}),
    ...(row.serialNumber ? { serialNumber: row.serialNumber } : {}),
    ...(Object.keys(row.tags).length ? { maker: row.tags } : {}),
  };
  const policy = row.certificatePolicy;
  return {
    registrationId: row.registrationId,
    attestation: { type: 'tpm', tpm: { endorsementKey: row.endorsementKey } },
    provisioningStatus: 'enabled',
    initialTwin: { tags: tags as unknown as Record<string, unknown> },
    ...(policy ?? {}),
    // DPS sends the webhook the enrollment in the definition's api-version: the names reach it only under 2026-11-01.
    ...(allocation
      ? {
          allocationPolicy: 'custom' as const,
          customAllocationDefinition: policy ? { ...allocation, apiVersion: ISSUING_DPS_API_VERSION } : allocation,
        }
      : {}),
  };
}

export type ExistingVerdict = { status: 'enrolled' | 'alreadyEnrolled' } | { status: 'failed'; reason: string };

/** A create answered 409: the enrollment already there decides the row's outcome. */
export function judgeExisting(
  row: ValidRow,
  manufacturerId: string,
  jobId: string,
  existing: IndividualEnrollment | undefined,
): ExistingVerdict {
  if (!existing) return { status: 'failed', reason: 'DPS said the enrollment exists, but it cannot be read' };
  const tags = (existing.initialTwin?.tags ?? {}) as Partial<EnrollmentTags>;
  const owner = tags.manufacturer;
  if (owner !== undefined && owner !== manufacturerId)
    // Whose it is stays unsaid: a maker learns nothing about another maker's devices from its report.
    return { status: 'failed', reason: `registration ID ${row.registrationId} is enrolled by another manufacturer` };
  if (existing.attestation?.type !== 'tpm' || existing.attestation.tpm?.endorsementKey !== row.endorsementKey) {
    return {
      status: 'failed',
      reason: `conflict: registration ID ${row.registrationId} is enrolled with another ${existing.attestation?.type === 'tpm' ? 'endorsement key' : `attestation (${existing.attestation?.type})`}`,
    };
  }
  return { status: tags.importJob === jobId ? 'enrolled' : 'alreadyEnrolled' };
}
