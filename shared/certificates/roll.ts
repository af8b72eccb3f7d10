/**
 * Rolling one enrollment or group whose primary certificate is inside the last horizon: its staged secondary is
 * promoted under the enrollment's etag, the inventory learns the new slots, and the roll is audited and told.
 *
 * Under faults: the reads are retried (idempotent); so is the write, since it is conditional on the etag read. When
 * its answer was lost after DPS applied it, the retry meets 412 — and the enrollment read again is the roll itself
 * (the promoted certificate as primary, nothing staged), which goes on to be audited rather than left unrecorded.
 */
import { audit } from '../audit';
import type { EnrollmentGroup, IndividualEnrollment, X509Certificates } from '../dps-types';
import { ConflictError } from '../errors';
import type { DocumentStore, EnrollmentsPort, EventsPort } from '../ports';
import { retryIdempotent, type RetryOptions } from '../retry';
import { recordCertificates } from './inventory';
import type { CertificateRepository } from './inventory-store';
import { type CertificateUsage, monthOf, recordsOfEnrollment } from './rules/record';
import { planRoll } from './rules/rolling';

export interface RollDeps {
  enrollments: () => Promise<EnrollmentsPort>;
  events: () => Promise<EventsPort>;
  retry?: RetryOptions;
}

type Enrollment = IndividualEnrollment | EnrollmentGroup;

/**
 * `serving: false`: DPS no longer holds the certificate as this enrollment's primary — rolled by an earlier sweep that
 * stopped before it could write that down, or changed by hand — so the usage the inventory keeps is stale.
 */
export type RollOutcome = { rolled: boolean; reason: string; serving?: false };

const sameThumbprint = (a: string | undefined, b: string) => a?.replace(/[^0-9a-f]/gi, '').toUpperCase() === b;

const slotsOf = (e: Enrollment, group: boolean): X509Certificates | undefined =>
  group ? e.attestation.x509?.signingCertificates : e.attestation.x509?.clientCertificates;

export async function rollEnrollment(
  deps: RollDeps,
  inventory: CertificateRepository,
  store: DocumentStore,
  certificateId: string,
  usage: CertificateUsage,
  now: Date,
  lastHorizon: number,
): Promise<RollOutcome> {
  const dps = await deps.enrollments();
  const group = usage.kind === 'enrollmentGroup';
  const read = (): Promise<Enrollment | undefined> =>
    retryIdempotent<Enrollment | undefined>(
      () => (group ? dps.getGroup(usage.id) : dps.getEnrollment(usage.id)),
      deps.retry,
    );
  const current = await read();
  if (!current || current.attestation.type !== 'x509')
    return { rolled: false, reason: 'no longer an X.509 enrollment', serving: false };
  const x509 = current.attestation.x509 ?? {};
  const slots = slotsOf(current, group);
  if (!sameThumbprint(slots?.primary?.info?.sha256Thumbprint, certificateId))
    return { rolled: false, reason: 'no longer its primary certificate', serving: false };
  const secondaryInfo = slots?.secondary?.info;
  const secondaryRecord = secondaryInfo
    ? await inventory.read(
        secondaryInfo.sha256Thumbprint.replace(/:/g, '').toUpperCase(),
        monthOf(new Date(secondaryInfo.notAfterUtc).toISOString()),
      )
    : undefined;
  const decision = planRoll(slots, now, lastHorizon, secondaryRecord?.pem);
  if (!decision.roll) return { rolled: false, reason: decision.reason };
  const updated = {
    ...current,
    attestation: {
      type: 'x509' as const,
      x509: { ...x509, ...(group ? { signingCertificates: decision.slots } : { clientCertificates: decision.slots }) },
    },
  };
  // The etag makes this conditional: an operator's change since the read wins, and the next sweep looks again.
  const written = await retryIdempotent<Enrollment>(
    () => (group ? dps.putGroup(updated as EnrollmentGroup) : dps.putEnrollment(updated as IndividualEnrollment)),
    deps.retry,
  ).catch(async (err: unknown) => {
    if (!(err instanceof ConflictError)) throw err;
    const held = await read();
    const slotsHeld = held && slotsOf(held, group);
    if (slotsHeld?.primary?.info?.sha256Thumbprint === secondaryInfo?.sha256Thumbprint && !slotsHeld?.secondary)
      return held as Enrollment;
    throw err;
  });
  const after = slotsOf(written, group);
  await recordCertificates(inventory, store, recordsOfEnrollment(written), { now });
  await audit(store, {
    actor: 'expiry-sweep',
    action: 'certificate.rolled',
    target: { kind: group ? 'enrollmentGroup' : 'enrollment', id: usage.id },
    before: slots,
    after,
  });
  await (
    await deps.events()
  ).publish([
    {
      type: 'certificate.rolled',
      subject: usage.id,
      time: now.toISOString(),
      data: { kind: usage.kind, id: usage.id, reason: decision.reason, before: slots, after },
    },
  ]);
  return { rolled: true, reason: decision.reason };
}
