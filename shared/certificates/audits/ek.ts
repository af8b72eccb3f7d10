/**
 * Audit: one TPM endorsement key behind two enrollments (one TPM, two identities — a copied EK). Uses the same
 * EK claims as the import, through its EkClaimRepository (one EK, one registration ID): the reconciliation pass claims the EK of every
 * TPM enrollment it reads, and a claim held by another registration ID is raised once.
 */
import { createHash } from 'node:crypto';

import type { IndividualEnrollment } from '../../dps-types';
import { ConflictError } from '../../errors';
import { type FindingBase, raiseOnce } from '../../findings';
import type { EkClaimRepository } from '../../imports';
import type { DocumentStore, EventsPort } from '../../ports';

export interface EkFinding extends FindingBase {
  kind: 'audit';
  code: 'EK_SHARED';
  reason: string;
  registrationIds: string[];
  raisedAt: string;
}

export async function auditEndorsementKeys(
  store: DocumentStore,
  claims: EkClaimRepository,
  events: EventsPort | undefined,
  enrollments: IndividualEnrollment[],
  now: Date,
): Promise<string[]> {
  const raised: string[] = [];
  for (const e of enrollments) {
    const ek = e.attestation?.type === 'tpm' ? e.attestation.tpm?.endorsementKey : undefined;
    if (!ek) continue;
    const hash = createHash('sha256').update(Buffer.from(ek, 'base64')).digest('hex');
    let claim = await claims.read(hash);
    if (!claim) {
      const manufacturer = (e.initialTwin?.tags as { manufacturer?: string } | undefined)?.manufacturer;
      try {
        claim = await claims.create({
          id: hash,
          registrationId: e.registrationId.toLowerCase(),
          manufacturerId: manufacturer,
          jobId: 'reconciliation',
          line: 0,
        });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        claim = await claims.read(hash);
      }
    }
    if (!claim || claim.registrationId.toLowerCase() === e.registrationId.toLowerCase()) continue;
    const registrationIds = [claim.registrationId.toLowerCase(), e.registrationId.toLowerCase()].sort();
    const finding: EkFinding = {
      id: `audit.EK_SHARED.${hash}`,
      kind: 'audit',
      code: 'EK_SHARED',
      registrationIds,
      raisedAt: now.toISOString(),
      reason: `one TPM endorsement key is enrolled as ${registrationIds.join(' and ')}`,
    };
    if (
      await raiseOnce(store, events, finding, {
        type: 'enrollment.audit',
        subject: hash,
        data: { code: finding.code, reason: finding.reason, registrationIds },
      })
    )
      raised.push(hash);
  }
  return raised;
}
