/**
 * A compromised CA, wherever it sits in the devices' chains: what the incident knows of it (its certificate — from the
 * incident, DPS's verified CA certificates, or the inventory — or at least its thumbprints and names from a group's
 * info), and the enrollment groups every member of which chains through it: those it signs for, and those whose
 * signer it issued. A group above it (verified by its root, its devices presenting it as an intermediate) is not
 * taken whole: its members are found one by one (resolve.ts, from the inventory), and a sibling CA is not touched.
 */
import { X509Certificate } from 'node:crypto';

import { denyKey, infoOf } from '../allocation';
import type { EnrollmentGroup, X509CertificateInfo } from '../dps-types';
import { type IncidentDeps, withRetry } from './deps';
import { normalizeThumbprint } from './rules/incident';
import type { CompromisedCa, CompromisedGroup } from './rules/resolution';

const DPS_PAGE = 100;

const sameName = (a: string | undefined, b: string | undefined) =>
  !!a && !!b && denyKey('issuer', a) === denyKey('issuer', b);

/** DPS's verified CA certificates, each parsed once: what a CA reference names, and where a CA may be found whole. */
interface VerifiedCa {
  name: string;
  ca: CompromisedCa;
}

function fromCertificate(pem: string, source: CompromisedCa['source']): CompromisedCa {
  const cert = new X509Certificate(pem);
  const info = infoOf(cert);
  return {
    sha1Thumbprint: info.sha1Thumbprint,
    sha256Thumbprint: info.sha256Thumbprint,
    subject: info.subjectName,
    issuer: info.issuerName,
    pem: cert.toString(),
    source,
  };
}

const hasThumbprint = (ca: CompromisedCa, thumbprint: string | undefined) =>
  !!thumbprint && [ca.sha1Thumbprint, ca.sha256Thumbprint].includes(normalizeThumbprint(thumbprint));

/** The CA by its thumbprint: its certificate where the backend holds one, else only what the thumbprint says. */
async function lookUp(deps: IncidentDeps, verified: VerifiedCa[], thumbprint: string): Promise<CompromisedCa> {
  const known = verified.find((v) => hasThumbprint(v.ca, thumbprint));
  if (known) return known.ca;
  const stored = await (await deps.certificates()).byThumbprint(thumbprint);
  if (stored?.pem) return fromCertificate(stored.pem, 'inventory');
  return thumbprint.length === 40
    ? { sha1Thumbprint: thumbprint, source: 'unknown' }
    : { sha256Thumbprint: thumbprint, source: 'unknown' };
}

/** The signer certificates of a group: uploaded ones by their info, CA references by DPS's verified certificates. */
function signersOf(verified: VerifiedCa[], group: EnrollmentGroup): Array<Partial<X509CertificateInfo>> {
  const x509 = group.attestation.x509;
  const uploaded = [x509?.signingCertificates?.primary?.info, x509?.signingCertificates?.secondary?.info];
  const names = [x509?.caReferences?.primary, x509?.caReferences?.secondary].filter(Boolean);
  const referenced = verified
    .filter((v) => names.includes(v.name))
    .map(({ ca }) => ({
      subjectName: ca.subject,
      issuerName: ca.issuer,
      sha1Thumbprint: ca.sha1Thumbprint,
      sha256Thumbprint: ca.sha256Thumbprint,
    }));
  return [...uploaded.filter((i): i is X509CertificateInfo => !!i), ...referenced];
}

/**
 * The CA the scope names, and the groups taken whole because of it. DPS allows at most 100 X.509 groups: this reads
 * a page or two, so it runs while the incident is accepted.
 */
export async function compromisedCa(
  deps: IncidentDeps,
  scope: { caCertificate?: string; issuerThumbprint?: string },
): Promise<{ ca?: CompromisedCa; groups: CompromisedGroup[]; notes: string[] }> {
  if (!scope.issuerThumbprint) return { groups: [], notes: [] };
  // Read and parsed once for the lookup and every group's CA references.
  const verified = ((await deps.caCertificates?.()) ?? []).map((c) => ({
    name: c.name,
    ca: fromCertificate(c.pem, 'dpsCaCertificates'),
  }));
  const ca = scope.caCertificate
    ? fromCertificate(scope.caCertificate, 'incident')
    : await lookUp(deps, verified, scope.issuerThumbprint);
  const dps = await deps.enrollments();
  const all: Array<{ group: EnrollmentGroup; signers: Array<Partial<X509CertificateInfo>> }> = [];
  let token: string | undefined;
  do {
    const page = await withRetry(deps)(() => dps.queryGroups(DPS_PAGE, token));
    for (const group of page.items)
      if (group.attestation.type === 'x509') all.push({ group, signers: signersOf(verified, group) });
    token = page.continuationToken;
  } while (token);
  // A CA known by its thumbprint alone takes its names from the group it signs for, if any.
  const isCa = (s: Partial<X509CertificateInfo>) =>
    hasThumbprint(ca, s.sha1Thumbprint) || hasThumbprint(ca, s.sha256Thumbprint);
  const own = all.flatMap((g) => g.signers).find(isCa);
  if (own && !ca.subject)
    Object.assign(ca, {
      subject: own.subjectName,
      issuer: own.issuerName,
      sha1Thumbprint: own.sha1Thumbprint ? normalizeThumbprint(own.sha1Thumbprint) : ca.sha1Thumbprint,
      sha256Thumbprint: own.sha256Thumbprint ? normalizeThumbprint(own.sha256Thumbprint) : ca.sha256Thumbprint,
      source: 'enrollmentGroup',
    });
  const groups: CompromisedGroup[] = [];
  for (const { group, signers } of all) {
    // A disallow group (an incident's, holding the CA) is not a group of devices: this incident holds it too.
    if (group.initialTwin?.tags?.disallowedByIncident) {
      if (signers.some(isCa)) ca.disallowedInDps = true;
      continue;
    }
    const signer = signers.find(isCa);
    const issued = signers.find((s) => sameName(s.issuerName, ca.subject) && !sameName(s.subjectName, ca.subject));
    if (signer)
      groups.push({
        enrollmentGroupId: group.enrollmentGroupId,
        caSubject: signer.subjectName ?? '',
        relation: 'signer',
      });
    else if (issued)
      groups.push({
        enrollmentGroupId: group.enrollmentGroupId,
        caSubject: issued.subjectName ?? '',
        relation: 'issuedByCa',
      });
  }
  const notes: string[] = [
    'a device whose chain holds the CA two or more levels above its own certificate, admitted by a group verified above the CA, is refused by DPS (the disallow group) but cannot be found here: DPS reports no device chain and the inventory knows each certificate by its direct issuer',
  ];
  if (!ca.pem && !ca.disallowedInDps)
    notes.push(
      `the certificate of CA ${scope.issuerThumbprint} is not known here (not in the incident, DPS's CA certificates or the inventory): DPS cannot be told to disallow it, so a device chaining through it deeper than the webhook sees may still provision through an enabled group above it — report the incident with scope.caCertificate`,
    );
  if (!ca.subject)
    notes.push(`no enrollment group or certificate names CA ${scope.issuerThumbprint}: refused by thumbprint only`);
  if (groups.length === 0)
    notes.push(
      `no enrollment group signs for CA ${scope.issuerThumbprint} or for a CA it issued: no group to disable whole`,
    );
  return { ca, groups, notes };
}
