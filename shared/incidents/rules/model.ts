/**
 * The incident aggregate: what an operator reads on `GET /api/incidents/{id}`, and the checkpoint every worker
 * resumes from. Its life: received → planning → awaitingApproval → running → quarantined | contained | failed;
 * planning → nothingFound when its scope matched nothing (never reported contained); cancelling → cancelled before
 * approval; releasing → released after the run (or after nothingFound, to lift its deny entries). The devices it reaches are kept
 * outside it, in pages (an incident may reach 100,000 devices; a document may not hold them).
 */
import type { IncidentRequest } from './incident';
import type { Approval, PlanSummary } from './plan-summary';
import type { ResolutionCursor } from './resolution';
import type { StepState, UndoCursor } from './step-state';

export type IncidentStatus =
  | 'received'
  | 'planning'
  | 'awaitingApproval'
  | 'running'
  | 'quarantined'
  | 'contained'
  | 'failed'
  | 'nothingFound'
  | 'cancelling'
  | 'cancelled'
  | 'releasing'
  | 'released';

/** Of the incident's devices on each hub, how many the hub showed connected (`connectionState`) at one moment. */
export interface ConnectedCounts {
  at: string;
  perHub: Record<string, { targeted: number; read: number; connected: number }>;
  /** More devices than the reading's cap: only the first of them were read (`read` < `targeted`). */
  capped: boolean;
  /** Hubs that could not be read, and why. */
  unavailable?: Record<string, string>;
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
  /** When `incident.received` went out: a submission that finds it unset is the one that created it (submit.ts). */
  announcedAt?: string;
  deniedAt?: string;
  plannedAt?: string;
  approvedAt?: string;
  completedAt?: string;
  cancelledAt?: string;
  releasedAt?: string;
  notes: string[];
  resolution: ResolutionCursor;
  plan?: PlanSummary;
  /** Its devices connected to their hubs when it was planned (read again on demand: `GET …/connected`). */
  connectedAtStart?: ConnectedCounts;
  /**
   * The last on-demand count (`GET …/connected`) and the status it was made in: answered again while it is younger
   * than a minute and the status is the same.
   */
  connectedNow?: ConnectedCounts & { status: IncidentStatus };
  approval?: Approval;
  steps?: StepState[];
  undo?: UndoCursor;
  /** Times an admin re-drove it (redrive.ts): each re-drive's audit record is numbered by it. */
  redrives?: number;
  /** One worker at a time: the others drop their message while the lease holds. */
  lease?: { owner: string; until: number };
  _etag?: string;
}

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
