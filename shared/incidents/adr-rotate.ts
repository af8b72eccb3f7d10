/**
 * A compromised ADR certificate policy: its issuing CA revoked and rotated (`revokeAndRotate`, an ARM async operation
 * the adapter follows to its end). IoT Hub reads no CRL; rotating the issuing CA is how ADR revokes what it issued:
 * the hubs stop accepting every certificate of the old one, and devices get certificates of the new one when they
 * provision again or renew. It cannot be undone: the hold the incident takes on the CA puts nothing back, and its
 * release says so in the audit and the incident's notes.
 *
 * Sent at most once per incident: what ADR showed of the CA (`before`) and the time of asking are checkpointed
 * before the call, so a step run again after a lost answer reads the CA first — a rotation under way is waited out,
 * a certificate that changed since `before` is this incident's rotation done, and only a CA still holding the
 * certificate it had is asked again (the request never landed, or ADR failed it before changing anything). A
 * rotation is recognised by the CA's subject and validity (ARM shows no thumbprint of a Microsoft-issued CA); an
 * operation ADR reports `Succeeded` is taken as done without that comparison.
 */
import { audit } from '../audit';
import type { RegistryCertificateAuthority } from '../certificates';
import { ServiceError, ThrottledError } from '../errors';
import { retryThrottled } from '../retry';
import { registryOf } from './adr-devices';
import { actorOf, dateOf, type IncidentDeps, millis, now, withRetry } from './deps';
import { updateStep } from './page-walker';
import { holdId } from './repositories';
import type { CaSnapshot, Incident, StepState } from './rules/model';

type RotateStep = Extract<StepState, { kind: 'adrRotate' }>;

/** How often a CA being rotated is read again, unless the deps say otherwise (`jobPollMs`). */
const POLL_MS = 1000;

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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runAdrRotate(
  deps: IncidentDeps,
  incident: Incident,
  index: number,
  deadline: number,
): Promise<boolean> {
  let step = (incident.steps as StepState[])[index] as RotateStep;
  if (step.rotatedAt) return true;
  const { namespaceName: ns, certificateAuthorityName: name } = step;
  const registry = await registryOf(deps);
  const r = withRetry(deps);
  const fail = async (why: string) => {
    await updateStep(deps, incident.id, index, (s) => void s.errors.push(`${ns}/${name}: ${why}`));
    return true;
  };
  await (await deps.holds()).acquire(holdId.rotation(ns, name), incident.id, undefined, millis(deps));

  let ca = await r(() => registry.certificateAuthority(ns, name));
  if (!ca) return fail('no such certificate authority in ADR');
  // A rotation under way — this incident's, its answer lost, or another's — is followed to its end first.
  while (running(ca)) {
    if (millis(deps) >= deadline) return false;
    await sleep(deps.jobPollMs ?? POLL_MS);
    ca = await r(() => registry.certificateAuthority(ns, name));
    if (!ca) return fail('the certificate authority disappeared while it was being rotated');
  }
  if (!step.requestedAt || sameCertificate(snapshotOf(ca), step.before)) {
    if (!step.requestedAt) {
      const before = snapshotOf(ca);
      step = (await updateStep(deps, incident.id, index, (s) => Object.assign(s, { before, requestedAt: now(deps) })))
        .steps![index] as RotateStep;
    }
    try {
      // Throttling waited out, nothing else tried again here: a second revokeAndRotate would revoke the CA the first
      // one made (withRetry would send it again after a lost answer).
      await retryThrottled(() => registry.revokeAndRotate(ns, name), deps.retry);
    } catch (err) {
      // ADR refused it (a 4xx): recorded, and the step fails. A lost answer or a 5xx fails the share instead, and
      // the next one reads the CA again before asking anything.
      if (err instanceof ServiceError && !(err instanceof ThrottledError) && (err.status ?? 500) < 500)
        return fail(`revokeAndRotate refused: ${err.message}`);
      throw err;
    }
    ca = await r(() => registry.certificateAuthority(ns, name));
    if (!ca) return fail('the certificate authority disappeared after its rotation');
  }
  const after = snapshotOf(ca);
  await audit(
    await deps.store(),
    {
      actor: actorOf(incident.id),
      action: 'revokeAndRotate',
      target: { kind: 'certificateAuthority', id: `${ns}/${name}` },
      before: { ...step.before, certificatePolicy: step.certificatePolicy },
      after: { ...after, irreversible: true, note: IRREVERSIBLE },
    },
    dateOf(deps),
    `${incident.id}.adr.${ns}.${name}.rotated`.toLowerCase(),
  );
  await updateStep(deps, incident.id, index, (s) => Object.assign(s, { rotatedAt: now(deps), done: 1 }));
  return true;
}

/**
 * Release: the incident lets go of the CA it rotated, and says — in the audit and its notes — that the rotation is
 * not undone. Done again after a crash, it writes the same audit record and the note once.
 */
export async function releaseRotation(deps: IncidentDeps, incident: Incident, by: string): Promise<void> {
  const step = (incident.steps ?? []).find((s): s is RotateStep => s.kind === 'adrRotate');
  if (!step) return;
  const { namespaceName: ns, certificateAuthorityName: name } = step;
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
    `${incident.id}.adr.${ns}.${name}.release`.toLowerCase(),
  );
  await (
    await deps.incidents()
  ).update(incident.id, (i) => (i.notes.includes(note) ? undefined : { ...i, notes: [...i.notes, note] }));
}
