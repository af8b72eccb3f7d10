/**
 * What containment keeps, as repositories with intention-revealing methods (their Cosmos implementations are in
 * store/). Every hold has owners: a deny entry, a disabled enrollment, group or hub device is held by the
 * incidents that need it, and only the last one to let go lifts it.
 */
import type { DenyEntry, DenyKind } from '../allocation';
import { ThrottledError } from '../errors';
import type { Page } from '../ports';
import type { Incident } from './rules/model';
import type { Target } from './rules/resolution';

export interface IncidentRepository {
  /** Creates the incident, or answers the one already stored under its id. */
  create(incident: Incident): Promise<{ created: true; incident: Incident } | { created: false; incident: Incident }>;
  get(id: string): Promise<Incident | undefined>;
  /** Incidents, newest first, a page at a time (the console's list). */
  list(pageSize: number, continuationToken?: string): Promise<Page<Incident>>;
  /**
   * Reads, changes and writes the incident under its etag, again on a concurrent write. `change` answers the new
   * incident, or undefined to leave it as it is.
   */
  update(id: string, change: (incident: Incident) => Incident | undefined): Promise<Incident | undefined>;
  /** Writes page `page` of the incident's targets (the same page written again replaces it). */
  putTargets(id: string, page: number, targets: Target[]): Promise<void>;
  targets(id: string, page: number): Promise<Target[] | undefined>;
}

/** What lifting a hold puts back. */
export type Restore =
  | { type: 'enableEnrollment'; registrationId: string }
  | { type: 'deleteBlock'; registrationId: string }
  | { type: 'enableGroup'; enrollmentGroupId: string }
  | { type: 'deleteDisallowGroup'; enrollmentGroupId: string }
  | { type: 'enableDevice'; hub: string; deviceId: string }
  /** An ADR registry device enabled again (adr-release.ts). */
  | { type: 'enableRegistryDevice'; namespaceName: string; deviceName: string };

export interface Hold {
  id: string;
  holders: string[];
  /** Absent when the thing was already disabled before any incident held it: lifting leaves it disabled. */
  restore?: Restore;
  /**
   * A pending restore: the last holder let go and is putting the thing back. The hold stays until it is done, so a
   * release that stopped half-way finishes it when run again; until `until` (ms) no new holder joins (it would read
   * the thing before the restore lands, and find it disabled) — past it, the releaser's share is over and a new
   * holder takes the hold over.
   */
  restoring?: { by: string; until: number };
}

/** A hold whose thing another incident is putting back: come back in `retryAfterMs`, then read the thing again. */
export class HoldBusyError extends ThrottledError {
  constructor(id: string, by: string, retryAfterMs: number) {
    super(`${id} is being put back by incident ${by}; try again once that is done`, retryAfterMs);
    this.name = 'HoldBusyError';
  }
}

export interface HoldRepository {
  /**
   * Adds a holder; a new hold records what lifting it will put back. A pending restore refuses until its claim lapses
   * at `nowMs` (HoldBusyError), and is then taken over, its `restore` kept (what the thing was before any incident).
   */
  acquire(id: string, holder: string, restoreIfNew: Restore | undefined, nowMs: number): Promise<Hold>;
  /**
   * Removes a holder. When it was the last: a hold with nothing to put back goes (and is answered); one with something
   * to put back becomes a pending restore claimed by this holder until `claimUntil`, answered so the caller puts the
   * thing back and then calls `restored`. Run again by the holder of a pending restore, answers it again (the claim
   * renewed). Else undefined.
   */
  release(id: string, holder: string, claimUntil: number): Promise<Hold | undefined>;
  /** The pending restore this holder claimed is done: the hold goes. */
  restored(id: string, holder: string): Promise<void>;
}

export interface DenyListRepository {
  /** Adds the incident as a holder of each entry, creating the entries it is first to hold; answers those new. */
  hold(entries: DenyEntry[], incidentId: string): Promise<DenyEntry[]>;
  /** Removes the incident from each entry's holders; answers the entries no incident holds any more (deleted). */
  release(entries: DenyEntry[], incidentId: string): Promise<DenyEntry[]>;
  /** Every entry of one kind (the revocation audit reads the certificate and issuer entries). */
  entriesOfKind(kind: DenyKind): Promise<DenyEntry[]>;
}

/** Hold ids: one per thing an incident can disable. */
export const holdId = {
  enrollment: (registrationId: string) => `enrollment:${registrationId.toLowerCase()}`,
  block: (registrationId: string) => `block:${registrationId.toLowerCase()}`,
  group: (enrollmentGroupId: string) => `group:${enrollmentGroupId.toLowerCase()}`,
  /** The disabled group that disallows a compromised CA in DPS. */
  disallow: (sha256Thumbprint: string) => `disallow:${sha256Thumbprint.toUpperCase()}`,
  device: (hub: string, deviceId: string) => `device:${hub.toLowerCase()}:${deviceId.toLowerCase()}`,
  /** An ADR registry device disabled. */
  registryDevice: (namespaceName: string, deviceName: string) =>
    `registryDevice:${namespaceName.toLowerCase()}:${deviceName.toLowerCase()}`,
  /** An ADR CA revoked and rotated: held by every incident that asked, with nothing to put back (ADR cannot undo it). */
  rotation: (namespaceName: string, certificateAuthorityName: string) =>
    `rotation:${namespaceName.toLowerCase()}:${certificateAuthorityName.toLowerCase()}`,
};
