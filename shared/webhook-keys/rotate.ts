/**
 * Rotating the allocation webhook's function key without failing a single registration: a new key is added beside
 * the old ones (the host accepts both), the webhook URL of every custom-allocation enrollment and group that points
 * at this webhook is rewritten to carry it (one page at a time, each DPS call waited out on 429, the position saved
 * after every page), the deployment's copy of the URL is updated, every enrollment is read again, and only when none
 * still carries an old key are the old keys removed. Run again after a crash, it resumes from its saved state; an
 * enrollment already carrying the new key is left alone, so nothing is written twice.
 */
import type { EnrollmentGroup, IndividualEnrollment } from '../dps-types';
import { ConflictError } from '../errors';
import { type Clock, type EnrollmentsPort, type Page, type SecretsPort, timeOf, type WebhookKeysPort } from '../ports';
import { type RetryOptions, retryThrottled } from '../retry';

export type RotationPhase =
  'enrollments' | 'groups' | 'publish' | 'verifyEnrollments' | 'verifyGroups' | 'retire' | 'done';

export interface RotationState {
  /** The webhook's URL without its key: enrollments pointing elsewhere are not ours to touch. */
  webhookBase: string;
  newKeyName: string;
  /** The keys of the function when the rotation began (the new one excepted): removed at the end. */
  oldKeyNames: string[];
  phase: RotationPhase;
  continuationToken?: string;
  counts: { rewritten: number; alreadyNew: number; failed: number; stillOld: number };
  /** One line per enrollment or group not rewritten, with why. */
  failures: Array<{ kind: 'enrollment' | 'group'; id: string; reason: string }>;
  startedAt: string;
  finishedAt?: string;
}

export interface RotationDeps {
  enrollments: EnrollmentsPort;
  keys: WebhookKeysPort;
  secrets: SecretsPort;
  /** Where the state is kept between runs (a file for the command line). */
  state: { load(): Promise<RotationState | undefined>; save(state: RotationState): Promise<void> };
  retry?: RetryOptions;
  clock?: Clock;
  log?: (line: string) => void;
}

export interface RotationRequest {
  webhookBase: string;
  /** The secret the deployment reads the webhook URL from (Key Vault: `allocation-webhook-url`). */
  secretName: string;
}

const PAGE = 100;
const MAX_FAILURES_KEPT = 1000;

type Enrollment = IndividualEnrollment | EnrollmentGroup;

const baseOf = (url: string) => url.split('?')[0].replace(/\/+$/, '').toLowerCase();
const codeOf = (url: string) => new URL(url).searchParams.get('code') ?? undefined;
const withCode = (url: string, code: string) => {
  const u = new URL(url);
  u.searchParams.set('code', code);
  return u.toString();
};

/** The webhook URL of an enrollment that allocates through this webhook; undefined for any other. */
function ourUrl(e: Enrollment, base: string): string | undefined {
  const url = e.allocationPolicy === 'custom' ? e.customAllocationDefinition?.webhookUrl : undefined;
  return url && baseOf(url) === baseOf(base) ? url : undefined;
}

async function walk<T extends Enrollment>(
  state: RotationState,
  deps: RotationDeps,
  query: (token?: string) => Promise<Page<T>>,
  visit: (items: T[]) => Promise<void>,
): Promise<void> {
  do {
    const page = await retryThrottled(() => query(state.continuationToken), deps.retry);
    await visit(page.items);
    state.continuationToken = page.continuationToken;
    await deps.state.save(state);
  } while (state.continuationToken);
}

type Kind = 'enrollment' | 'group';
type Put = (e: Enrollment) => Promise<Enrollment>;

/**
 * The phase walker: every enrollment in `phases[0]`, then every group in `phases[1]`, from whichever of the two the
 * state is in (a resumed run goes on from its continuation token), then the state moves to `after`. `visit` sees each
 * item with its kind and how to write it back.
 */
async function walkEnrollmentsThenGroups(
  state: RotationState,
  deps: RotationDeps,
  phases: readonly [RotationPhase, RotationPhase],
  after: RotationPhase,
  visit: (kind: Kind, item: Enrollment, put: Put) => Promise<void>,
): Promise<void> {
  const dps = deps.enrollments;
  const sources = [
    {
      phase: phases[0],
      kind: 'enrollment' as const,
      query: (t?: string) => dps.queryEnrollments(PAGE, t),
      put: ((e) => dps.putEnrollment(e as IndividualEnrollment)) as Put,
    },
    {
      phase: phases[1],
      kind: 'group' as const,
      query: (t?: string) => dps.queryGroups(PAGE, t),
      put: ((e) => dps.putGroup(e as EnrollmentGroup)) as Put,
    },
  ];
  for (const [i, source] of sources.entries()) {
    if (state.phase !== source.phase) continue;
    await walk<Enrollment>(state, deps, source.query, async (items) => {
      for (const item of items) await visit(source.kind, item, source.put);
    });
    state.phase = i === 0 ? phases[1] : after;
    await deps.state.save(state);
  }
}

/** A new rotation's state, with its new key added beside the old ones. */
async function startRotation(deps: RotationDeps, request: RotationRequest, now: Date): Promise<RotationState> {
  const before = await deps.keys.list();
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const state: RotationState = {
    webhookBase: request.webhookBase,
    newKeyName: `dps-${stamp}`,
    oldKeyNames: before.map((k) => k.name),
    phase: 'enrollments',
    counts: { rewritten: 0, alreadyNew: 0, failed: 0, stillOld: 0 },
    failures: [],
    startedAt: now.toISOString(),
  };
  await deps.keys.put(state.newKeyName);
  await deps.state.save(state);
  return state;
}

/** Rewrites an enrollment's or group's webhook URL to the new key; counts and reports what became of it. */
async function rewrite(
  deps: RotationDeps,
  state: RotationState,
  newKey: string,
  kind: Kind,
  item: Enrollment,
  put: Put,
): Promise<void> {
  const url = ourUrl(item, state.webhookBase);
  if (!url) return;
  if (codeOf(url) === newKey) return void state.counts.alreadyNew++;
  const id = 'registrationId' in item ? item.registrationId : item.enrollmentGroupId;
  try {
    const definition = { ...item.customAllocationDefinition, webhookUrl: withCode(url, newKey) };
    await retryThrottled(() => put({ ...item, customAllocationDefinition: definition } as Enrollment), deps.retry);
    state.counts.rewritten++;
  } catch (err) {
    // Changed meanwhile (etag) or refused: reported, and counted again when the old keys are checked for.
    state.counts.failed++;
    const reason = err instanceof ConflictError ? 'changed while being rewritten' : (err as Error).message;
    if (state.failures.length < MAX_FAILURES_KEPT) state.failures.push({ kind, id, reason });
  }
}

export async function rotateWebhookKey(deps: RotationDeps, request: RotationRequest): Promise<RotationState> {
  const clock = timeOf(deps);
  const log = deps.log ?? (() => undefined);
  let state = await deps.state.load();
  if (!state || state.phase === 'done') {
    state = await startRotation(deps, request, clock());
    log(`added key ${state.newKeyName}; rewriting the webhook URL of every enrollment and group`);
  } else log(`resuming the rotation to ${state.newKeyName} at ${state.phase}`);
  const current = state;
  const newKey = (await deps.keys.list()).find((k) => k.name === current.newKeyName)?.value;
  if (!newKey) throw new Error(`key ${current.newKeyName} is gone from the function: start a new rotation`);

  await walkEnrollmentsThenGroups(current, deps, ['enrollments', 'groups'], 'publish', (kind, item, put) =>
    rewrite(deps, current, newKey, kind, item, put),
  );
  if (current.phase === 'publish') {
    await deps.secrets.set(request.secretName, withCode(current.webhookBase, newKey));
    current.phase = 'verifyEnrollments';
    current.counts.stillOld = 0;
    await deps.state.save(current);
  }
  await walkEnrollmentsThenGroups(
    current,
    deps,
    ['verifyEnrollments', 'verifyGroups'],
    'retire',
    async (_kind, item) => {
      const url = ourUrl(item, current.webhookBase);
      if (url && codeOf(url) !== newKey) current.counts.stillOld++;
    },
  );
  if (current.phase !== 'retire') return current;
  if (current.counts.stillOld > 0) {
    log(`${current.counts.stillOld} enrollments or groups still carry an old key: the old keys stay; run again`);
    // The next run rewrites what is left and checks again.
    Object.assign(current, { phase: 'enrollments', continuationToken: undefined, failures: [] });
    Object.assign(current.counts, { failed: 0, stillOld: 0 });
    await deps.state.save(current);
    return current;
  }
  for (const name of current.oldKeyNames) await deps.keys.remove(name);
  current.phase = 'done';
  current.finishedAt = clock().toISOString();
  await deps.state.save(current);
  return current;
}
