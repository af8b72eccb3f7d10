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

import type { StoredDocument } from '../ports';

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

/** A claim's marker: random, so nobody can guess it before the group carries it. */
export const newMarker = () => randomBytes(24).toString('base64url');

export function isStaleClaim(claim: GroupClaim, at: Date): boolean {
  return at.getTime() - Date.parse(claim.claimedAt) > STALE_CLAIM_MS;
}

/** The claims on group IDs (its Cosmos implementation is `store/cosmos-group-claims.ts`). */
export interface GroupClaimRepository {
  /** Claims the ID for this request, or answers the claim that holds it (this request's own, or another's). */
  claim(enrollmentGroupId: string, request: string, by: string, at: Date): Promise<ClaimOutcome>;
  /** Takes over a stale claim under its etag; undefined when it changed meanwhile (someone else took it). */
  takeOver(stale: GroupClaim, request: string, by: string, at: Date): Promise<GroupClaim | undefined>;
  /** Notes DPS's etag of the group this claim's request wrote (best effort: without it, the marker still decides). */
  noteWritten(claim: GroupClaim, etag: string | undefined): Promise<void>;
  /** Lets the ID go: DPS refused the request, so nothing of it is there (only this version of the claim). */
  drop(claim: GroupClaim): Promise<void>;
}
