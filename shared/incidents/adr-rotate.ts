/**
 * A compromised ADR certificate policy: its issuing CA revoked and rotated (`revokeAndRotate`, an ARM async operation
 * the adapter follows to its end). IoT Hub reads no CRL; rotating the issuing CA is how ADR revokes what it issued:
 * the hubs stop accepting every certificate of the old one, and devices get certificates of the new one when they
 * provision again or renew. It cannot be undone: the hold the incident takes on the CA puts nothing back, and its
 * release says so in the audit and the incident's notes.
 *
 * Sent at most once per incident, and never again once it may have landed: what ADR showed of the CA (`before`) and
 * the time of asking are checkpointed before the call. Only a 429 on the POST itself is sent again (ADR did not take
 * it), and a 4xx is ADR refusing it. Anything else — a lost answer, a 5xx, a 202 whose operation could not be
 * followed (OutcomeUnknownError), a share killed mid-call — leaves the outcome unknown: the CA is read again, never
 * asked again (ARM need not show the CA updating as soon as it accepts an action, so "unchanged" proves nothing). A
 * certificate that changed since `before` is this incident's rotation, audited; one under way is waited out; one
 * unchanged is watched for `rotationOutcomeWaitMs`, then the step fails for a human. A rotation is recognised by the
 * CA's subject and validity (ARM shows no thumbprint of a Microsoft-issued CA); an operation ADR reports `Succeeded`
 * is taken as done without that comparison. A CA whose certificate is newer than the incident was already rotated
 * (another incident's, or an operator's): this one does not revoke the replacement, and says so.
 */
import { audit } from '../audit';
import type { RegistryCertificateAuthority } from '../certificates';
import { OutcomeUnknownError, ServiceError, ThrottledError, TransientError } from '../errors';
import { OutOfTimeError, retryThrottled } from '../retry';
import { registryOf } from './adr-devices';
import { actorOf, dateOf, type IncidentDeps, lower, millis, now, onceFor, withRetry } from './deps';
import { updateStep } from './page-walker';
import { holdId } from './repositories';
import type { Incident } from './rules/model';
import type { CaSnapshot, StepState } from './rules/step-state';

type RotateStep = Extract<StepState, { kind: 'adrRotate' }>;

/** How often a CA being rotated is read again, unless the deps say otherwise (`jobPollMs`). */
const POLL_MS = 1000;
/** How long an unknown outcome is watched for before a human is asked (`rotationOutcomeWaitMs`). */
export const DEFAULT_ROTATION_OUTCOME_WAIT_MS = 15 * 60_000;

export const IRREVERSIBLE =
  'revokeAndRotate cannot be undone: the revoked certificate authority stays replaced, and its old certificates stay refused';

const snapshotOf = (ca: RegistryCertificateAuthority): CaSnapshot => ({
  subject: ca.subject,
  notBefore: ca.notBefore,
  notAfter: ca.notAfter,
  provisioningState: ca.provisioningState,
});

/** The same certificate (a rotation makes a new one: another validity at least). */
const sameCertificate = (a: CaSnapshot, b: CaSnapshot | undefined) =>
  !!b && a.subject === b.subject && a.notBefore === b.notBefore && a.notAfter === b.notAfter;

/** Neither done nor failed: ARM's non-terminal provisioning states. */
const running = (ca: RegistryCertificateAuthority) =>
  !!ca.provisioningState && !['Succeeded', 'Failed', 'Canceled'].includes(ca.provisioningState);

/** The CA's certificate starts after the incident was received: rotated since (finding 8), not the compromised one. */
const newerThan = (ca: RegistryCertificateAuthority, incident: Incident) =>
  !!ca.notBefore && Date.parse(ca.notBefore) > Date.parse(incident.receivedAt);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a failed POST says: ADR did not take it (429: may be asked again), refused it (4xx), or nobody knows. */
function judgePost(err: unknown): 'throttled' | 'refused' | 'unknown' {
  const fault = err instanceof OutOfTimeError ? err.fault : err;
  if (fault instanceof ThrottledError) return 'throttled';
  if (err instanceof OutcomeUnknownError || err instanceof TransientError) return 'unknown';
  if (err instanceof ServiceError && err.status !== undefined && err.status >= 400 && err.status < 500)
    return err.status === 408 ? 'unknown' : 'refused';
  return 'unknown'; // a 5xx, a lost connection the adapter passed on as is, anything else
}

export async function runAdrRotate(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  deadline: number,
): Promise<boolean> {
  let step = (incident.steps as StepState[])[index] as RotateStep;
  if (step.rotatedAt || step.alreadyRotated) return true;
  const { namespaceName: ns, certificateAuthorityName: name } = step;
  const registry = await registryOf(deps);
  const r = withRetry(deps);
  const read = () => r(() => registry.certificateAuthority(ns, name));
  const fail = async (why: string) => {
    await updateStep(deps, incident.id, index, (s) => void s.errors.push(`${ns}/${name}: ${why}`));
    return true;
  };
  const save = async (change: Partial<RotateStep>) => {
    step = (await updateStep(deps, incident.id, index, (s) => Object.assign(s, change))).steps![index] as RotateStep;
  };
  await (await deps.holds()).acquire(holdId.rotation(ns, name), incident.id, undefined, millis(deps));

  if (!step.requestedAt) {
    let ca = await read();
    if (!ca) return fail('no such certificate authority in ADR');
    // A rotation under way — another incident's, or an operator's — is followed to its end first.
    while (running(ca)) {
      if (millis(deps) >= deadline) return false;
      await sleep(deps.jobPollMs ?? POLL_MS);
      ca = await read();
      if (!ca) return fail('the certificate authority disappeared while it was being rotated');
    }
    if (newerThan(ca, incident)) {
      const note = `${ns}/${name}: not rotated — its certificate (valid from ${ca.notBefore}) is newer than this incident (received ${incident.receivedAt}): it was rotated since, and rotating again would revoke the replacement`;
      await save({ alreadyRotated: { notBefore: ca.notBefore, note }, done: 1 });
      await (
        await deps.incidents()
      ).update(incident.id, (i) => (i.notes.includes(note) ? undefined : { ...i, notes: [...i.notes, note] }));
      return true;
    }
    await save({ before: snapshotOf(ca), requestedAt: now(deps) });
    try {
      // Only a 429 is sent again (ADR did not take it); nothing else is: a second revokeAndRotate would revoke the
      // CA the first one made.
      await retryThrottled(() => registry.revokeAndRotate(ns, name), deps.retry);
      await save({ answeredAt: now(deps) });
    } catch (err) {
      const verdict = judgePost(err);
      if (verdict === 'throttled') {
        // Never taken: the next share asks again, from a fresh reading.
        await save({ requestedAt: undefined, before: undefined });
        throw err;
      }
      if (verdict === 'refused') {
        await save({ requestedAt: undefined });
        return fail(`revokeAndRotate refused by ADR: ${(err as Error).message}`);
      }
      const why = err instanceof Error ? err.message : String(err);
      const operation = err instanceof OutcomeUnknownError ? err.operation : undefined;
      await save({ outcomeUnknown: { since: now(deps), why, ...(operation ? { operation } : {}) } });
    }
  }
  return follow(deps, incident, index, deadline, step, fail);
}

/**
 * After asking: the CA read until its rotation shows (or ADR's `Succeeded` is taken as it), which is then audited;
 * never asked again. An outcome unknown that stays unchanged past the bound fails the step for a human.
 */
async function follow(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  deadline: number,
  step: RotateStep,
  fail: (why: string) => Promise<boolean>,
): Promise<boolean> {
  const { namespaceName: ns, certificateAuthorityName: name } = step;
  const registry = await registryOf(deps);
  const read = () => withRetry(deps)(() => registry.certificateAuthority(ns, name));
  // Asked, and then nothing heard (not even an OutcomeUnknownError): the share stopped mid-call.
  const unknown = step.outcomeUnknown ?? { since: step.requestedAt!, why: 'the share stopped while asking' };
  const bound = deps.rotationOutcomeWaitMs ?? DEFAULT_ROTATION_OUTCOME_WAIT_MS;
  for (;;) {
    const ca = await read();
    if (!ca) return fail('the certificate authority disappeared after revokeAndRotate was asked');
    if (!running(ca) && (step.answeredAt || !sameCertificate(snapshotOf(ca), step.before))) {
      await recordRotation(deps, incident, index, step, snapshotOf(ca));
      return true;
    }
    if (!running(ca) && millis(deps) - Date.parse(unknown.since) >= bound)
      return fail(
        `revokeAndRotate's outcome is unknown (${unknown.why}) and the CA still holds the certificate it had (valid from ${step.before?.notBefore ?? '?'}) ${Math.round((millis(deps) - Date.parse(step.requestedAt!)) / 60_000)} min after it was asked; it is not sent again (a second one would revoke its replacement). A human: see ADR${unknown.operation ? ` (operation ${unknown.operation})` : ''}, and rotate it by hand if nothing is under way; the release reads the CA again and audits a rotation it finds`,
      );
    if (millis(deps) >= deadline) return false;
    await sleep(deps.jobPollMs ?? POLL_MS);
  }
}

const rotatedOnce = (deps: IncidentDeps, incidentId: string, ns: string, name: string) =>
  onceFor(deps, incidentId, 'adr', lower(ns), lower(name), 'rotated');

/** The rotation audited (once: its id) and checkpointed; `found` says it was seen later than asked. */
async function recordRotation(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  step: RotateStep,
  after: CaSnapshot,
  found?: string,
) {
  const { namespaceName: ns, certificateAuthorityName: name } = step;
  await audit(
    await deps.store(),
    {
      actor: actorOf(incident.id),
      action: 'revokeAndRotate',
      target: { kind: 'certificateAuthority', id: `${ns}/${name}` },
      before: { ...step.before, certificatePolicy: step.certificatePolicy },
      after: {
        ...after,
        irreversible: true,
        note: IRREVERSIBLE,
        ...(step.outcomeUnknown ? { outcomeUnknown: step.outcomeUnknown } : {}),
        ...(found ? { found } : {}),
      },
    },
    dateOf(deps),
    rotatedOnce(deps, incident.id, ns, name),
  );
  await updateStep(deps, incident.id, index, (s) => Object.assign(s, { rotatedAt: now(deps), done: 1 }));
}

/**
 * Release: the incident lets go of the CA it rotated, and says — in the audit and its notes — that the rotation is
 * not undone. A rotation asked for whose outcome the step never saw (it failed for a human) is looked for once more:
 * a CA changed since `before` is audited as this incident's, then released as one. Done again after a crash, it
 * writes the same audit records and the note once.
 */
export async function releaseRotation(deps: IncidentDeps, incident: Incident, by: string): Promise<void> {
  const index = (incident.steps ?? []).findIndex((s) => s.kind === 'adrRotate');
  if (index < 0) return;
  let step = (incident.steps as StepState[])[index] as RotateStep;
  const { namespaceName: ns, certificateAuthorityName: name } = step;
  if (!step.rotatedAt && step.requestedAt && step.before) {
    const registry = await registryOf(deps);
    const ca = await withRetry(deps)(() => registry.certificateAuthority(ns, name));
    if (ca && !running(ca) && !sameCertificate(snapshotOf(ca), step.before)) {
      await recordRotation(deps, incident, index, step, snapshotOf(ca), `found rotated on release by ${by}`);
      step = ((await (await deps.incidents()).get(incident.id)) as Incident).steps![index] as RotateStep;
    }
  }
  // Nothing to put back (ADR cannot undo a rotation): the hold goes at once, whatever the claim.
  await (await deps.holds()).release(holdId.rotation(ns, name), incident.id, millis(deps));
  if (!step.rotatedAt) return;
  const note = `${ns}/${name}: ${IRREVERSIBLE} (released by ${by})`;
  await audit(
    await deps.store(),
    {
      actor: `release:${incident.id} by ${by}`,
      action: 'revokeAndRotateNotUndone',
      target: { kind: 'certificateAuthority', id: `${ns}/${name}` },
      after: { rotatedAt: step.rotatedAt, irreversible: true, note: IRREVERSIBLE },
    },
    dateOf(deps),
    onceFor(deps, incident.id, 'adr', lower(ns), lower(name), 'release'),
  );
  await (
    await deps.incidents()
  ).update(incident.id, (i) => (i.notes.includes(note) ? undefined : { ...i, notes: [...i.notes, note] }));
}
