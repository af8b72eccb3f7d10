/** One EK, one registration ID: the claims the import makes and the reconciliation pass audits, by SHA-256 of the EK. */
import { type FindingBase, raiseOnce } from '../findings';
import type { DocumentStore, EventsPort, StoredDocument } from '../ports';

export interface EkClaim extends StoredDocument {
  registrationId: string;
  manufacturerId?: string;
  /** The import job that claimed it, or `reconciliation`. */
  jobId: string;
  line: number;
}

/**
 * The claims, by EK hash (its Cosmos implementation is `store/cosmos-ek-claims.ts`): the certificate audits claim
 * through the same repository, so the import and the reconciliation pass hold one EK to one registration ID.
 */
export interface EkClaimRepository {
  /** Claims the EK; a ConflictError when it is claimed already (by anyone, this very claim's lost answer included). */
  create(claim: EkClaim): Promise<EkClaim>;
  read(ekHash: string): Promise<EkClaim | undefined>;
  /**
   * Gives the EK back: the claim as it was read (its etag), and only that one — a claim deleted meanwhile and made
   * again (by a second delivery's row, or another maker) stays. Gone already is given back.
   */
  delete(ekHash: string, etag: string): Promise<void>;
}

type Claim = Pick<EkClaim, 'id' | 'registrationId' | 'manufacturerId' | 'jobId' | 'line'>;

export interface EkClaimConflictFinding extends FindingBase {
  kind: 'audit';
  code: 'EK_CLAIM_CONFLICT';
  reason: string;
  /** The claim that holds the EK, and the one refused: which maker is right is for an administrator to find out. */
  claims: Claim[];
}

/**
 * A maker tried to enroll an EK another maker's enrollment holds: the public EK of someone else's TPM, or a TPM sold
 * on. Raised once per EK and claimant; the row itself is refused without naming the holder.
 */
export async function raiseEkClaimConflict(
  store: DocumentStore,
  events: EventsPort | undefined,
  holder: Claim,
  refused: Claim,
  now: Date,
): Promise<boolean> {
  const pick = ({ id, registrationId, manufacturerId, jobId, line }: Claim): Claim => ({
    id,
    registrationId,
    manufacturerId,
    jobId,
    line,
  });
  const finding: EkClaimConflictFinding = {
    id: `audit.EK_CLAIM_CONFLICT.${holder.id}.${refused.manufacturerId ?? 'unknown'}`,
    kind: 'audit',
    code: 'EK_CLAIM_CONFLICT',
    raisedAt: now.toISOString(),
    reason: `manufacturer ${refused.manufacturerId} (job ${refused.jobId}, line ${refused.line}) tried to enroll as ${refused.registrationId} an endorsement key held by ${holder.registrationId} (manufacturer ${holder.manufacturerId ?? 'unknown'})`,
    claims: [pick(holder), pick(refused)],
  };
  return raiseOnce(store, events, finding, {
    type: 'enrollment.audit',
    subject: holder.id,
    data: { code: finding.code, reason: finding.reason, claims: finding.claims },
  });
}
