/** What the incident use cases are given, and the few helpers every one of them uses. */
import { createHash } from 'node:crypto';

import { type DenyEntry, denyKey } from '../allocation';
import { audit, auditDay, type Once } from '../audit';
import type { CertificateRepository, DeviceRegistryPort } from '../certificates';
import {
  type BlobsPort,
  type Clock,
  type DocumentStore,
  type EnrollmentsPort,
  type EventsPort,
  type HubDirectory,
  type MetricsPort,
  type QueuePort,
  timeOf,
} from '../ports';
import { retryIdempotent, type RetryOptions } from '../retry';
import type { DenyListRepository, HoldRepository, IncidentRepository } from './repositories';

export interface IncidentDeps {
  incidents: () => Promise<IncidentRepository>;
  holds: () => Promise<HoldRepository>;
  denyList: () => Promise<DenyListRepository>;
  /** The audit trail. */
  store: () => Promise<DocumentStore>;
  /** The certificate inventory: a CA incident finds its CA and the devices it issued for there. */
  certificates: () => Promise<CertificateRepository>;
  enrollments: () => Promise<EnrollmentsPort>;
  hubs: () => Promise<HubDirectory>;
  queues: () => Promise<QueuePort>;
  events: () => Promise<EventsPort>;
  blobs?: () => Promise<BlobsPort>;
  /** Azure Device Registry, when the backend administers a namespace (`adrNamespace`): adr-devices.ts, adr-rotate.ts. */
  deviceRegistry?: () => Promise<DeviceRegistryPort>;
  /** The ADR namespace DPS is linked to: the registry devices of the incident's devices are there. */
  adrNamespace?: string;
  /** DPS's verified CA certificates (`{ name, pem }`): where a CA named by thumbprint may be found whole. */
  caCertificates?: () => Promise<Array<{ name: string; pem: string }>>;
  /** Devices on one hub above which containment deletes them with an import job instead of bulk calls. */
  importJobThreshold?: number;
  /**
   * Plans of at most this many devices that disable no group and no CA, submitted by an admin over HTTP, run without
   * waiting for approval; larger ones, and any that disables a group or a CA, wait for an admin.
   */
  autoApproveMaxDevices?: number;
  /** Plans that are not small are approved by an admin other than their submitter (default on). */
  fourEyes?: boolean;
  /** At most this many identities an alert names one by one are refused at once; the rest wait for approval. */
  alertImmediateDenyMax?: number;
  /** How long one invocation works before it checkpoints and queues the rest (well under the host's timeout). */
  budgetMs?: number;
  /** How often an import job is polled (ms). */
  jobPollMs?: number;
  /**
   * How long a rotation whose outcome is unknown (adr-rotate.ts) is watched for its CA to change before the step fails
   * for a human; never sent again meanwhile.
   */
  rotationOutcomeWaitMs?: number;
  /** How long a hub or DPS may stay unreachable before a step gives up and says what is left (rules/outage.ts). */
  maxOutageMs?: number;
  /** Tells the webhook of this instance at once (other instances refresh from the store within seconds). */
  onDeny?: (entries: DenyEntry[]) => void;
  onRelease?: (entries: DenyEntry[]) => void;
  retry?: RetryOptions;
  /** When the incidents a share holds were received (id → ISO time): their audit records' filing day, without a read. */
  received?: Readonly<Record<string, string>>;
  /** The time (the system's unless a test gives its own). */
  clock?: Clock;
  /** Each step's progress, for Azure Monitor. */
  metrics?: MetricsPort;
  log?: (line: string) => void;
}

export const DEFAULT_AUTO_APPROVE_MAX_DEVICES = 10;
export const DEFAULT_ALERT_IMMEDIATE_DENY_MAX = 100;
export const DEFAULT_BUDGET_MS = 4 * 60_000;

/** The time now (ISO) and in milliseconds, from the deps' clock. */
export const now = (deps: Pick<IncidentDeps, 'clock'>) => timeOf(deps)().toISOString();
export const millis = (deps: Pick<IncidentDeps, 'clock'>) => timeOf(deps)().getTime();
export const dateOf = (deps: Pick<IncidentDeps, 'clock'>) => timeOf(deps)();
export const lower = (s: string) => s.toLowerCase();
export const actorOf = (incidentId: string) => `incident:${incidentId}`;

/**
 * The incident's calls, each retried after throttling (its Retry-After) and after a transient fault (backoff): every
 * call made through it is idempotent or made so by its caller — a read; a put of the same thing; a delete whose 404
 * is "done"; a put under an etag whose 412 is re-read and judged (etag-writes.ts); a bulk call whose per-device
 * answers are read as our own earlier try (rules/hub-answers.ts). An import job's start is not: hub-import-job.ts
 * looks for its own job before every try.
 */
export function withRetry(deps: IncidentDeps) {
  return <T>(call: () => Promise<T>) => retryIdempotent(call, deps.retry);
}

/** As `withRetry`, and says afterwards whether an earlier try lost its answer (so "not found" may be our own work). */
export function tracked(deps: IncidentDeps) {
  let lost = false;
  const call = <T>(fn: () => Promise<T>) =>
    retryIdempotent(fn, {
      ...deps.retry,
      onTransient: (wait, attempt, err) => {
        lost = true;
        deps.retry?.onTransient?.(wait, attempt, err);
      },
    });
  return { call, answerLost: () => lost };
}

/** Cosmos DB's longest id. */
const MAX_ID = 255;

/** One part of an id, percent-encoded: no '/', '\\', '?', '#' (Cosmos refuses them), '.' (the separator) or '~'. */
const idPart = (part: string) => encodeURIComponent(part).replace(/[.~]/g, (c) => (c === '.' ? '%2E' : '%7E'));

/**
 * An audit record's id for one change an incident makes: the same change recorded again (a lost answer's retry, a
 * share replayed after a crash) meets 409, so each is recorded once — and two different changes never share one
 * (review finding 7: ids were lowercased, hub device IDs are case-sensitive, and '.' or '_' inside a part could make
 * two joins alike). Each part is encoded as it is given (a caller lowercases what its service compares without case:
 * registration and group IDs, hub and ADR names), joined with '.'; past Cosmos' 255 characters, or for a part that
 * cannot be encoded, the id is the incident's (cut) and a SHA-256 of the parts as a JSON array, after a '~' no
 * encoded id holds.
 */
export function auditIdOf(incidentId: string, ...parts: string[]): string {
  try {
    const id = [incidentId, ...parts].map(idPart).join('.');
    if (id.length <= MAX_ID) return id;
  } catch {
    // A lone surrogate (encodeURIComponent refuses it): hashed below.
  }
  const digest = createHash('sha256')
    .update(JSON.stringify([incidentId, ...parts]))
    .digest('hex');
  const head = incidentId.replace(/[^A-Za-z0-9-]/g, '').slice(0, MAX_ID - digest.length - 1);
  return `${head}~${digest}`;
}

/**
 * Each incident's filing day, per repository (a process's; the share passes its incident's instead: `received`), as
 * the read that finds it: callers at once share one read. An incident's receipt never changes; a failed read is not
 * kept.
 */
const filingDays = new WeakMap<IncidentRepository, Map<string, Promise<string>>>();

/**
 * The day an incident's audit records are filed under (audit.ts): the day it was received, whenever a record is
 * written — so a change recorded again by a share replayed after midnight UTC meets its first record (409), once.
 */
export async function filingDayOf(
  deps: Pick<IncidentDeps, 'incidents' | 'received'>,
  incidentId: string,
): Promise<string> {
  const received = deps.received?.[incidentId];
  if (received) return auditDay(received);
  const repo = await deps.incidents();
  const known = filingDays.get(repo) ?? new Map<string, Promise<string>>();
  filingDays.set(repo, known);
  const cached = known.get(incidentId);
  if (cached) return cached;
  const reading = (async () => {
    const incident = await repo.get(incidentId);
    if (!incident) throw new Error(`incident ${incidentId} not found: its audit records have no day to be filed under`);
    return auditDay(incident.receivedAt);
  })();
  known.set(incidentId, reading);
  reading.catch(() => known.delete(incidentId));
  return reading;
}

/** A change of the incident, recorded once: its id (`auditIdOf`) and the incident's filing day. */
export async function onceFor(
  deps: Pick<IncidentDeps, 'incidents' | 'received'>,
  incidentId: string,
  ...parts: string[]
): Promise<Once> {
  return { id: auditIdOf(incidentId, ...parts), day: await filingDayOf(deps, incidentId) };
}

export async function emit(deps: IncidentDeps, type: string, incidentId: string, data: Record<string, unknown> = {}) {
  await (await deps.events()).publish([{ type, subject: incidentId, time: now(deps), data: { incidentId, ...data } }]);
}

/** Holds deny entries for the incident: the new ones go to this instance's webhook at once, and into the audit. */
export async function holdDeny(deps: IncidentDeps, incidentId: string, entries: DenyEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const added = await (await deps.denyList()).hold(entries, incidentId);
  deps.onDeny?.(entries);
  if (added.length) await auditDeny(deps, incidentId, 'denyListAdd', added);
}

/** Lets go of deny entries; those no other incident holds leave the list (and this instance's webhook). */
export async function releaseDeny(deps: IncidentDeps, incidentId: string, entries: DenyEntry[], by: string) {
  if (entries.length === 0) return;
  const lifted = await (await deps.denyList()).release(entries, incidentId);
  if (lifted.length === 0) return;
  deps.onRelease?.(lifted);
  await auditDeny(deps, incidentId, 'denyListRemove', lifted, by);
}

/**
 * One record per call, under an id of the incident, the action and the identities it names: the same change recorded
 * again (a release run again after its record was written) is recorded once.
 */
async function auditDeny(deps: IncidentDeps, incidentId: string, action: string, entries: DenyEntry[], by?: string) {
  const store = await deps.store();
  const names = entries.map((e) => `${e.kind}:${e.value}`);
  // Each identity as the deny list compares it (denyKey: an EK or a device's thumbprint keeps what tells it apart).
  const keys = entries.map((e) => denyKey(e.kind, e.value));
  const digest = createHash('sha256').update(JSON.stringify(keys.sort())).digest('hex').slice(0, 32);
  await audit(
    store,
    {
      actor: by ? `${by} (${actorOf(incidentId)})` : actorOf(incidentId),
      action,
      target: {
        kind: 'denyList',
        id: `${entries[0].kind}:${entries[0].value}`,
        ids: names,
      },
      after: action === 'denyListAdd' ? { reason: entries[0].reason } : null,
    },
    dateOf(deps),
    onceFor(deps, incidentId, action, digest),
  );
}

/** A deadline for this invocation's work. */
export function deadlineOf(deps: IncidentDeps): number {
  return millis(deps) + (deps.budgetMs ?? DEFAULT_BUDGET_MS);
}
