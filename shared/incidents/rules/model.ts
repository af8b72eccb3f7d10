/**
 * The incident aggregate: what an operator reads on `GET /api/incidents/{id}`, and the checkpoint every worker
 * resumes from. Its life: received → planning → awaitingApproval → running → quarantined | contained | failed;
 * planning → nothingFound when its scope matched nothing (never reported contained); cancelling → cancelled before
 * approval; releasing → released after the run (or after nothingFound, to lift its deny entries). The devices it reaches are kept
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
  | 'nothingFound'
  | 'cancelling'
  | 'cancelled'
  | 'releasing'
  | 'released';

/** A device the incident reaches, as resolution found it. */
export interface Target {
  registrationId: string;
  deviceId?: string;
  hub?: string;
  /** How it attests: its own individual enrollment, a group, or neither (a hub device with no enrollment found). */
  via: 'individual' | 'group' | 'none';
  enrollmentGroupId?: string;
}

/**
 * A group every member of which chains through the compromised CA: its signer is the CA (`signer`), or a CA the
 * compromised one issued (`issuedByCa`). Disabled whole; `caSubject` is its signer's subject.
 */
export interface CompromisedGroup {
  enrollmentGroupId: string;
  caSubject: string;
  relation?: 'signer' | 'issuedByCa';
}

/** The compromised CA as the incident came to know it. */
export interface CompromisedCa {
  sha1Thumbprint?: string;
  sha256Thumbprint?: string;
  subject?: string;
  issuer?: string;
  /** Its certificate (PEM): only with it can DPS be told to disallow the CA (a disabled group holding it). */
  pem?: string;
  /** A disabled group already disallows it in DPS (another incident's): this one holds it too. */
  disallowedInDps?: boolean;
  /** Where it was found: the incident itself, DPS's verified CA certificates, the inventory, a group's info. */
  source: 'incident' | 'dpsCaCertificates' | 'inventory' | 'enrollmentGroup' | 'unknown';
}

/**
 * Where resolution stands. Each phase pages through DPS with its continuation token kept here, so a worker stopped
 * anywhere goes on from the last page it saved.
 */
export interface ResolutionCursor {
  phase: 'caGroups' | 'ids' | 'members' | 'caMembers' | 'enrollments' | 'hubDevices' | 'done';
  /** Position in the phase's list (IDs named in the scope, groups whose members are listed). */
  index: number;
  continuationToken?: string;
  /** Pages of targets written so far. */
  pages: number;
  /** Groups whose members the incident reaches (named, or holding the CA). */
  memberGroups: string[];
  caGroups: CompromisedGroup[];
  /** The CA the scope names (`caCertificate` or `issuerThumbprint`), once looked up. */
  ca?: CompromisedCa;
  /** The group the scope names, when DPS has no such group: nothing to disable, said in the notes. */
  missingGroups?: string[];
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
  /** The disabled group that makes DPS refuse every chain holding the compromised CA (its certificate known). */
  disallowCa?: { enrollmentGroupId: string; thumbprint: string };
  /** The first few registration IDs, for a human to recognise. */
  sample: string[];
  /** IDs the scope named that no enrollment, registration or hub device answers to: how many, and the first few. */
  notFound: { count: number; sample: string[] };
  /** What it does in Azure Device Registry (the namespace DPS is linked to), when the backend administers one. */
  adr?: AdrPlan;
}

/** Containment in Azure Device Registry: registry devices disabled (reversible), a compromised CA rotated (not). */
export interface AdrPlan {
  namespaceName: string;
  /**
   * Target devices looked up among the namespace's registry devices: those there (DPS issued them a certificate
   * through one of its policies) are disabled, so they cannot provision again; released, they are enabled again.
   */
  devicesToCheck: number;
  /**
   * The compromised policy's issuing CA revoked and rotated: a new key and certificate replace it, and the hubs stop
   * accepting every certificate the old one issued. ADR cannot undo it: releasing the incident leaves it rotated.
   */
  revokeAndRotate?: {
    certificatePolicy: string;
    certificateAuthorityName: string;
    irreversible: true;
    warning: string;
  };
}

/** Of the incident's devices on each hub, how many the hub showed connected (`connectionState`) at one moment. */
export interface ConnectedCounts {
  at: string;
  perHub: Record<string, { targeted: number; read: number; connected: number }>;
  /** More devices than the reading's cap: only the first of them were read (`read` < `targeted`). */
  capped: boolean;
  /** Hubs that could not be read, and why. */
  unavailable?: Record<string, string>;
}

/** What ADR showed of a CA before this incident asked for its rotation: a rotation changes its certificate. */
export interface CaSnapshot {
  subject?: string;
  notBefore?: string;
  notAfter?: string;
  provisioningState?: string;
}

/** Who may let the plan run: nobody needed (auto), any admin, or an admin other than its submitter (four eyes). */
export interface Approval {
  auto: boolean;
  otherAdmin: boolean;
  why: string;
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
  /** Its service unreachable past the retries: the step waits, from `since`, until `until` at least (rules/outage.ts). */
  waiting?: Waiting;
  /** The error (one of `errors`) that ended the step when its service stayed unreachable past the outage budget. */
  gaveUp?: string;
}

export interface Waiting {
  since: string;
  until: string;
  /** Shares that found it unreachable, this one included. */
  tries: number;
  /** The last error, as the service's client saw it. */
  reason: string;
}

export type StepState =
  /** An alert's refusals beyond what it named one by one: groups, the CA, and every device found (after approval). */
  | ({ kind: 'refuse' } & Progress)
  | ({ kind: 'dps'; groupsToDisable: string[]; groupsDone: number } & Progress)
  | ({ kind: 'hub'; hub: string; action: 'disable' | 'delete'; path: HubPath; jobId?: string } & Progress)
  /** The compromised policy's CA revoked and rotated: `before` and `requestedAt` are kept before it is asked. */
  | ({
      kind: 'adrRotate';
      namespaceName: string;
      certificateAuthorityName: string;
      certificatePolicy: string;
      before?: CaSnapshot;
      requestedAt?: string;
      /** ADR's operation said `Succeeded`: the rotation is done, whatever the CA is read as next. */
      answeredAt?: string;
      /**
       * The request may have landed but its outcome was not heard (a lost answer, a 5xx, or a 202 whose operation
       * could not be followed): never sent again; the CA is read until it changes, for a bounded time, then a human.
       */
      outcomeUnknown?: { since: string; why: string; operation?: string };
      rotatedAt?: string;
      /** Not asked: the CA's certificate was already newer than this incident (another rotation, finding 8). */
      alreadyRotated?: { notBefore?: string; note: string };
    } & Progress)
  /** Each target's registry device disabled in the namespace, where it has one. */
  | ({ kind: 'adrDevices'; namespaceName: string } & Progress)
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
