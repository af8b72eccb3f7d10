/**
 * The steps that carry out an approved plan, each with its checkpoint (its progress through the target pages, and
 * what it waits on), and the cursor a release or cancel undoes them from.
 */
import type { HubPath } from './plan-summary';

/** What ADR showed of a CA before this incident asked for its rotation: a rotation changes its certificate. */
export interface CaSnapshot {
  subject?: string;
  notBefore?: string;
  notAfter?: string;
  provisioningState?: string;
}

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
