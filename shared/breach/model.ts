/**
 * The incident aggregate: what an operator reads on `GET /api/incidents/{id}`, and the checkpoint every worker
 * resumes from. Its life: received → planning → awaitingApproval → running → quarantined | contained | failed;
 * cancelling → cancelled before approval; releasing → released after the run. The devices it reaches are kept
 * outside it, in pages (an incident may reach 100,000 devices; a document may not hold them).
 */
import type { IncidentRequest } from './incident';

export type IncidentStatus =
  | 'received'
  | 'planning'
  | 'awaitingApproval'
  | 'running'
  | 'quarantined'
  | 'contained'
  | 'failed'
  | 'cancelling'
  | 'cancelled'
  | 'releasing'
  | 'released';

/** Statuses in which the incident still needs its holds; only these may own a deny entry or a disabled thing. */
export const OPEN_STATUSES: ReadonlySet<IncidentStatus> = new Set([
  'received',
  'planning',
  'awaitingApproval',
  'running',
  'quarantined',
  'contained',
  'failed',
]);

/** A device the incident reaches, as resolution found it. */
export interface Target {
  registrationId: string;
  deviceId?: string;
  hub?: string;
  /** How it attests: its own individual enrollment, a group, or neither (a hub device with no enrollment found). */
  via: 'individual' | 'group' | 'none';
  enrollmentGroupId?: string;
}

/** A compromised CA's enrollment group, and the subject the deny list refuses. */
export interface CompromisedGroup {
  enrollmentGroupId: string;
  caSubject: string;
}

/**
 * Where resolution stands. Each phase pages through DPS with its continuation token kept here, so a worker stopped
 * anywhere goes on from the last page it saved.
 */
export interface ResolutionCursor {
  phase: 'caGroups' | 'ids' | 'members' | 'enrollments' | 'hubDevices' | 'done';
  /** Position in the phase's list (IDs named in the scope, groups whose members are listed). */
  index: number;
  continuationToken?: string;
  /** Pages of targets written so far. */
  pages: number;
  /** Groups whose members the incident reaches (named, or holding the CA). */
  memberGroups: string[];
  caGroups: CompromisedGroup[];
  /**
   * Device IDs named in the scope that are not also registration IDs: looked for among individual enrollments
   * (their `deviceId`), then on the hubs (a device registered outside DPS).
   */
  unmatchedDeviceIds?: string[];
}

export interface PlanSummary {
  /** Distinct devices the incident reaches. */
  devices: number;
  /** Devices per hub; devices on no hub are `withoutHub`. */
  perHub: Record<string, number>;
  withoutHub: number;
  enrollmentsToDisable: number;
  /** Devices of a group shut out one by one (a disabled individual enrollment under their registration ID). */
  groupDevicesToBlock: number;
  groupsToDisable: string[];
  /** What each hub step will do: disable (quarantine) or delete (contain), and how. */
  hubActions: Array<{ hub: string; action: 'disable' | 'delete'; devices: number; path: HubPath }>;
  deleteRegistrationRecords: number;
  /** The first few registration IDs, for a human to recognise. */
  sample: string[];
}

/** How a hub step runs: bulk registry calls (≤ 100 devices each, within the throttle), or an IoT Hub import job. */
export type HubPath = 'bulk' | 'importJob';

interface Progress {
  state: 'pending' | 'running' | 'done' | 'failed';
  /** Items handled so far, and in all. */
  done: number;
  total: number;
  /** The next target page, and the position within it. */
  page: number;
  offset: number;
  startedAt?: string;
  finishedAt?: string;
  errors: string[];
}

export type StepState =
  | ({ kind: 'dps'; groupsToDisable: string[]; groupsDone: number } & Progress)
  | ({ kind: 'hub'; hub: string; action: 'disable' | 'delete'; path: HubPath; jobId?: string } & Progress)
  | ({ kind: 'registrations' } & Progress);

export interface UndoCursor {
  page: number;
  /** Pages done; then the groups, then the deny entries named directly. */
  phase: 'targets' | 'groups' | 'direct' | 'done';
}

export interface Incident {
  id: string;
  request: IncidentRequest;
  status: IncidentStatus;
  /** Where it came from: an admin over HTTP, or security tooling on the event hub (never auto-approved). */
  source: 'http' | 'alert';
  submittedBy: string;
  approvedBy?: string;
  cancelledBy?: string;
  releasedBy?: string;
  receivedAt: string;
  deniedAt?: string;
  plannedAt?: string;
  approvedAt?: string;
  completedAt?: string;
  cancelledAt?: string;
  releasedAt?: string;
  notes: string[];
  resolution: ResolutionCursor;
  plan?: PlanSummary;
  steps?: StepState[];
  undo?: UndoCursor;
  /** One worker at a time: the others drop their message while the lease holds. */
  lease?: { owner: string; until: number };
  _etag?: string;
}

export const TERMINAL: ReadonlySet<IncidentStatus> = new Set(['cancelled', 'released']);

export function newIncident(
  request: IncidentRequest,
  submittedBy: string,
  source: Incident['source'],
  at: string,
): Incident {
  return {
    id: request.id,
    request,
    status: 'received',
    source,
    submittedBy,
    receivedAt: at,
    notes: [],
    resolution: { phase: 'caGroups', index: 0, pages: 0, memberGroups: [], caGroups: [] },
  };
}
