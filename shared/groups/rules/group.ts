/**
 * An enrollment group an operator creates through the backend (`PUT /api/enrollment-groups/{id}`): symmetric key, or
 * X.509 under a CA certificate; allocated by this backend's webhook; and, when it names an ADR certificate policy
 * (`namespace/certificateAuthority/policy`), written with DPS 2026-11-01's three names, so DPS has that policy's CA
 * sign the CSRs its devices send — as imports write them on individual enrollments. The webhook is then told of the
 * group under 2026-11-01 (`customAllocationDefinition.apiVersion`), the only version in which it sees the policy.
 * Pure: parsing refuses anything unclear, with the reason — and what containment writes is not for an operator to
 * name: IDs under containment's `disallow-ca-` prefix and its marker tags are refused (review finding 4c).
 */
import { createHash, X509Certificate } from 'node:crypto';

import { parseCertificateText, type Parsed } from '../../allocation';
import {
  type CertificatePolicyRef,
  formatCertificatePolicy,
  ISSUING_DPS_API_VERSION,
  readCertificatePolicy,
} from '../../certificate-policy';
import type { EnrollmentGroup } from '../../dps-types';

export interface GroupRequest {
  enrollmentGroupId: string;
  attestation: { type: 'symmetricKey' } | { type: 'x509'; caCertificate: string };
  certificatePolicy?: CertificatePolicyRef;
  tags?: Record<string, string>;
}

/** DPS: "alphanumeric, lowercase, and may contain hyphens" up to 128 characters (the SDKs' check is looser). */
const GROUP_ID = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const TAG_KEY = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const MAX_TAGS = 20;
const MAX_PEM = 16 * 1024;
/** The DPS API version the webhook is told of a group in without a policy (imports use the same). */
export const WEBHOOK_API_VERSION = '2021-10-01';
/**
 * The tag holding the marker of the claim that made the group (../claim.ts): the same request sent again (a retry)
 * knows its group by it. Its value is random and kept by the backend, never derived from the request.
 */
export const REQUEST_TAG = 'createdByRequest';
/** Containment's disallow groups (`disallow-ca-<sha256>`, incidents/rules/plan.ts disallowGroupId): never an operator's. */
export const RESERVED_GROUP_PREFIX = 'disallow-ca-';
/**
 * Tags containment writes and reads to know its own disallow groups and blocks (incidents: dps-holds, holds,
 * compromised-ca): a group an operator creates carrying one would be taken for containment's, and released by it.
 */
export const RESERVED_TAGS = [REQUEST_TAG, 'disallowedByIncident', 'blockedByIncident', 'disallowedCa'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseGroupRequest(enrollmentGroupId: string, body: unknown): Parsed<GroupRequest> {
  if (!GROUP_ID.test(enrollmentGroupId))
    return { ok: false, reason: 'the group ID must be 1–128 lower-case letters, digits, . _ or -' };
  if (enrollmentGroupId.startsWith(RESERVED_GROUP_PREFIX))
    return {
      ok: false,
      reason: `group IDs starting ${RESERVED_GROUP_PREFIX} are containment's (a disallowed CA's group): choose another ID`,
    };
  if (!isObject(body))
    return { ok: false, reason: 'The body must be a JSON object: { attestation, certificatePolicy?, tags? }' };
  const unknown = Object.keys(body).filter((k) => !['attestation', 'certificatePolicy', 'tags'].includes(k));
  if (unknown.length) return { ok: false, reason: `unknown fields: ${unknown.join(', ')}` };
  const attestation = parseAttestation(body.attestation);
  if (!attestation.ok) return attestation;
  const request: GroupRequest = { enrollmentGroupId, attestation: attestation.value };
  if (body.certificatePolicy !== undefined) {
    if (typeof body.certificatePolicy !== 'string')
      return { ok: false, reason: 'certificatePolicy must be "namespace/certificateAuthority/policy"' };
    const read = readCertificatePolicy(body.certificatePolicy);
    if (!read.ok) return read;
    if (read.policy) request.certificatePolicy = read.policy;
  }
  if (body.tags !== undefined) {
    const tags = parseTags(body.tags);
    if (!tags.ok) return tags;
    request.tags = tags.value;
  }
  return { ok: true, value: request };
}

function parseAttestation(value: unknown): Parsed<GroupRequest['attestation']> {
  const shape =
    'attestation must be { "type": "symmetricKey" } or { "type": "x509", "caCertificate": "<PEM of the CA its devices chain to>" }';
  if (!isObject(value)) return { ok: false, reason: shape };
  if (value.type === 'symmetricKey' && Object.keys(value).length === 1)
    return { ok: true, value: { type: 'symmetricKey' } };
  if (value.type !== 'x509' || typeof value.caCertificate !== 'string' || value.caCertificate.length > MAX_PEM)
    return { ok: false, reason: shape };
  if ((value.caCertificate.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length > 1)
    return { ok: false, reason: 'attestation.caCertificate holds several certificates: give the one CA' };
  const cert = parseCertificateText(value.caCertificate);
  if (!cert) return { ok: false, reason: 'attestation.caCertificate is not an X.509 certificate (PEM or base64 DER)' };
  if (!cert.ca)
    return { ok: false, reason: 'attestation.caCertificate is not a CA certificate (basicConstraints CA:TRUE)' };
  return { ok: true, value: { type: 'x509', caCertificate: cert.toString() } };
}

function parseTags(value: unknown): Parsed<Record<string, string>> {
  if (!isObject(value)) return { ok: false, reason: 'tags must be an object of strings' };
  const entries = Object.entries(value);
  if (entries.length > MAX_TAGS) return { ok: false, reason: `at most ${MAX_TAGS} tags` };
  for (const [k, v] of entries) {
    if (!TAG_KEY.test(k)) return { ok: false, reason: `tag name "${k}" is not allowed` };
    if (RESERVED_TAGS.some((r) => r.toLowerCase() === k.toLowerCase()))
      return { ok: false, reason: `tag name "${k}" is not allowed: the backend writes it (containment's or its own)` };
    if (typeof v !== 'string' || v.length > 256)
      return { ok: false, reason: `tag ${k} must be a string of at most 256 characters` };
  }
  return { ok: true, value: value as Record<string, string> };
}

/** A digest of what was asked: the same request sent again has the same one (its claim knows it by this). */
export function requestDigest(request: GroupRequest): string {
  const canonical = JSON.stringify({
    id: request.enrollmentGroupId,
    attestation: request.attestation,
    policy: request.certificatePolicy ? formatCertificatePolicy(request.certificatePolicy) : null,
    tags: Object.entries(request.tags ?? {}).sort(([a], [b]) => a.localeCompare(b)),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/**
 * The group as DPS takes it: custom allocation by our webhook, the policy's three names when it names one, and the
 * marker of the claim it is written under.
 */
export function groupOf(request: GroupRequest, webhookUrl: string, marker: string): EnrollmentGroup {
  const policy = request.certificatePolicy;
  return {
    enrollmentGroupId: request.enrollmentGroupId,
    attestation:
      request.attestation.type === 'symmetricKey'
        ? { type: 'symmetricKey' }
        : {
            type: 'x509',
            x509: { signingCertificates: { primary: { certificate: request.attestation.caCertificate } } },
          },
    provisioningStatus: 'enabled',
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl, apiVersion: policy ? ISSUING_DPS_API_VERSION : WEBHOOK_API_VERSION },
    reprovisionPolicy: { updateHubAssignment: true, migrateDeviceData: true },
    initialTwin: { tags: { ...(request.tags ?? {}), [REQUEST_TAG]: marker } },
    ...(policy ?? {}),
  };
}

const sha256Of = (pem: string) => new X509Certificate(pem).fingerprint256.replace(/:/g, '').toUpperCase();

/**
 * Why the group DPS holds is not the one `request` wrote under `marker`, or undefined when it is: the marker, the
 * webhook and the version it is told in, the attestation (an X.509 group's CA by the thumbprint DPS shows) and the
 * tags. Keys are not compared — DPS makes them — which is why the marker, not the shape, says who made it. A policy's
 * names are not compared either: the service SDK reads under 2021-10-01, which does not show them.
 */
export function notGroupOf(
  stored: EnrollmentGroup,
  request: GroupRequest,
  webhookUrl: string,
  marker: string,
): string | undefined {
  const wanted = groupOf(request, webhookUrl, marker);
  const tags = stored.initialTwin?.tags ?? {};
  if (tags[REQUEST_TAG] !== marker) return 'it was not made by this request';
  if (stored.attestation?.type !== wanted.attestation.type) return `its attestation is ${stored.attestation?.type}`;
  if (request.attestation.type === 'x509') {
    const held = stored.attestation.x509?.signingCertificates?.primary;
    const thumbprint = held?.info?.sha256Thumbprint ?? (held?.certificate ? sha256Of(held.certificate) : undefined);
    if (thumbprint?.toUpperCase() !== sha256Of(request.attestation.caCertificate)) return 'it trusts another CA';
  }
  const custom = stored.customAllocationDefinition;
  if (stored.allocationPolicy !== 'custom' || custom?.webhookUrl !== webhookUrl)
    return 'it is not allocated by this backend’s webhook';
  if (custom.apiVersion !== wanted.customAllocationDefinition?.apiVersion)
    return `its webhook is told of it under ${custom.apiVersion}`;
  const asked = wanted.initialTwin?.tags ?? {};
  const differs = [...new Set([...Object.keys(tags), ...Object.keys(asked)])].find((k) => tags[k] !== asked[k]);
  if (differs !== undefined) return `its tag ${differs} differs`;
  return undefined;
}
