/** Findings as the use cases keep them (their Cosmos implementation is `store/cosmos-findings.ts`). */
import type { Page } from '../ports';
import type { FindingBase } from './raise';

export const FINDING_KINDS = ['expiry', 'audit', 'alert'] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** A finding as stored: what raised it, and who silenced it, if anyone did. */
export interface StoredFinding extends FindingBase {
  suppressed?: { by: string; reason: string; at: string };
  /** What it was about is over (a renewal finding whose certificate was renewed): kept, no longer listed. */
  resolved?: { at: string; reason: string };
}

export interface FindingRepository {
  /** One page of the findings of a kind (its partition). */
  ofKind(kind: FindingKind, pageSize: number, continuationToken?: string): Promise<Page<StoredFinding>>;
  get(kind: FindingKind, id: string): Promise<StoredFinding | undefined>;
  /** Writes the finding over the one read (under its etag). */
  replace(finding: StoredFinding): Promise<StoredFinding>;
}
