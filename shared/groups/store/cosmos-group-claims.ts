/**
 * The group claims on Cosmos: `group-claim.<enrollmentGroupId>` documents of the `checkpoints` container (which a DPS
 * writer cannot write), each its own partition. Why claims exist, and why their marker is random: ../claim.ts.
 */
import { CONTAINERS } from '../../containers';
import { ConflictError } from '../../errors';
import type { DocumentContainer, DocumentStore } from '../../ports';
import { type ClaimOutcome, type GroupClaim, type GroupClaimRepository, newMarker } from '../claim';

const claimId = (enrollmentGroupId: string) => `group-claim.${enrollmentGroupId}`;

export class CosmosGroupClaimRepository implements GroupClaimRepository {
  private readonly docs: DocumentContainer<GroupClaim>;

  constructor(store: DocumentStore) {
    this.docs = store.container<GroupClaim>(CONTAINERS.checkpoints.name);
  }

  async claim(enrollmentGroupId: string, request: string, by: string, at: Date): Promise<ClaimOutcome> {
    const id = claimId(enrollmentGroupId);
    const fresh: GroupClaim = {
      id,
      type: 'groupClaim',
      enrollmentGroupId,
      request,
      marker: newMarker(),
      by,
      claimedAt: at.toISOString(),
    };
    let held: GroupClaim | undefined;
    try {
      return { kind: 'mine', claim: await this.docs.create(fresh), fresh: true };
    } catch (err) {
      // Someone claimed it first — or this very create, its answer lost and sent again: read which.
      if (!(err instanceof ConflictError)) throw err;
      held = await this.docs.read(id, id);
    }
    if (!held) throw new ConflictError(`the claim on group ${enrollmentGroupId} changed while it was read`, 409);
    return held.request === request ? { kind: 'mine', claim: held, fresh: false } : { kind: 'other', claim: held };
  }

  async takeOver(stale: GroupClaim, request: string, by: string, at: Date): Promise<GroupClaim | undefined> {
    const { writtenEtag: _dropped, ...rest } = stale;
    return this.replaceOrUndefined({ ...rest, request, marker: newMarker(), by, claimedAt: at.toISOString() });
  }

  async noteWritten(claim: GroupClaim, etag: string | undefined): Promise<void> {
    if (etag) await this.replaceOrUndefined({ ...claim, writtenEtag: etag });
  }

  async drop(claim: GroupClaim): Promise<void> {
    await this.docs.delete(claim.id, claim.id, claim._etag).catch((err: unknown) => {
      if (!(err instanceof ConflictError)) throw err;
    });
  }

  private async replaceOrUndefined(doc: GroupClaim): Promise<GroupClaim | undefined> {
    try {
      return await this.docs.replace(doc);
    } catch (err) {
      if (err instanceof ConflictError) return undefined;
      throw err;
    }
  }
}
