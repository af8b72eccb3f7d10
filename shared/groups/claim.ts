/**
 * Which request may create the group under an ID, kept in the backend's own store (the `checkpoints` container, which
 * a DPS writer cannot write): the first request to claim a new ID gets a random marker, which goes into the group's
 * tags when it is written. A group that carries its claim's marker is the one the claiming request made — how the same
 * request sent again after a lost answer knows its own group. Unlike a digest of the request (public facts: for a
 * symmetric-key group, its ID alone), the marker exists nowhere but here until the group is written, so nobody can
 * make a group beforehand that passes for the backend's (review finding 4a).
 *
 * A second, different request for an ID someone claimed is a conflict — two requests through the backend never both
 * write it. A claim whose request DPS refused is dropped at once; one left by a request that died (nothing in DPS) is
 * taken over once older than any request runs (the host's functionTimeout is 10 minutes). When the group is written,
 * the claim keeps DPS's etag of it: a group changed or made again since is not taken for this request's.
 */
import { randomBytes } from 'node:crypto';

import { CONTAINERS } from '../containers';
import { ConflictError } from '../errors';
import type { DocumentContainer, DocumentStore, StoredDocument } from '../ports';

/** Older than this, a claim whose group DPS does not hold was left by a request that died. */
export const STALE_CLAIM_MS = 15 * 60_000;

export interface GroupClaim extends StoredDocument {
  type: 'groupClaim';
  enrollmentGroupId: string;
  /** The claiming request's digest (`requestDigest`): the same request again is this claim's. */
  request: string;
  /** Random, kept only here until the group is written with it in its tags. */
  marker: string;
  by: string;
  claimedAt: string;
  /** DPS's etag of the group this claim's request wrote, once its answer came. */
  writtenEtag?: string;
}

/** `fresh`: claimed by this very call (no earlier try of the request can have written under it). */
export type ClaimOutcome = { kind: 'mine'; claim: GroupClaim; fresh: boolean } | { kind: 'other'; claim: GroupClaim };

const claimId = (enrollmentGroupId: string) => `group-claim.${enrollmentGroupId}`;
const newMarker = () => randomBytes(24).toString('base64url');

export class GroupClaims {
  private readonly docs: DocumentContainer<GroupClaim>;

  constructor(store: DocumentStore) {
    this.docs = store.container<GroupClaim>(CONTAINERS.checkpoints.name);
  }

  /** Claims the ID for this request, or answers the claim that holds it (this request's own, or another's). */
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

  isStale(claim: GroupClaim, at: Date): boolean {
    return at.getTime() - Date.parse(claim.claimedAt) > STALE_CLAIM_MS;
  }

  /** Takes over a stale claim under its etag; undefined when it changed meanwhile (someone else took it). */
  async takeOver(stale: GroupClaim, request: string, by: string, at: Date): Promise<GroupClaim | undefined> {
    const { writtenEtag: _dropped, ...rest } = stale;
    return this.replaceOrUndefined({ ...rest, request, marker: newMarker(), by, claimedAt: at.toISOString() });
  }

  /** Notes DPS's etag of the group this claim's request wrote (best effort: without it, the marker still decides). */
  async noteWritten(claim: GroupClaim, etag: string | undefined): Promise<void> {
    if (etag) await this.replaceOrUndefined({ ...claim, writtenEtag: etag });
  }

  /** Lets the ID go: DPS refused the request, so nothing of it is there (only this version of the claim). */
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
