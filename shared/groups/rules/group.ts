/**
 * An enrollment group an operator creates through the backend (`PUT /api/enrollment-groups/{id}`): symmetric key, or
 * X.509 under a CA certificate; allocated by this backend's webhook; and, when it names an ADR certificate policy
 * (`namespace/certificateAuthority/policy`), written with DPS 2026-11-01's three names, so DPS has that policy's CA
 * sign the CSRs its devices send — as imports write them on individual enrollments. The webhook is then told of the
 * group under 2026-11-01 (`customAllocationDefinition.apiVersion`), the only version in which it sees the policy.
 * Pure: parsing refuses anything unclear, with the reason.
 */
import { createHash } from 'node:crypto';

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
/** A tag that says which request made the group: the same request sent again (a retry) is recognised by it. */
export const REQUEST_TAG = 'createdByRequest';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseGroupRequest(enrollmentGroupId: string, body: unknown): Parsed<GroupRequest> {
  if (!GROUP_ID.test(enrollmentGroupId))
    return { ok: false, reason: 'the group ID must be 1–128 lower-case letters, digits, . _ or -' };
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
    if (!TAG_KEY.test(k) || k === REQUEST_TAG) return { ok: false, reason: `tag name "${k}" is not allowed` };
    if (typeof v !== 'string' || v.length > 256)
      return { ok: false, reason: `tag ${k} must be a string of at most 256 characters` };
  }
  return { ok: true, value: value as Record<string, string> };
}

/** A digest of what was asked: a group carrying it was made by the very same request. */
export function requestDigest(request: GroupRequest): string {
  const canonical = JSON.stringify({
    id: request.enrollmentGroupId,
    attestation: request.attestation,
    policy: request.certificatePolicy ? formatCertificatePolicy(request.certificatePolicy) : null,
    tags: Object.entries(request.tags ?? {}).sort(([a], [b]) => a.localeCompare(b)),
  });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** The group as DPS takes it: custom allocation by our webhook, the policy's three names when it names one. */
export function groupOf(request: GroupRequest, webhookUrl: string): EnrollmentGroup {
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
    initialTwin: { tags: { ...(request.tags ?? {}), [REQUEST_TAG]: requestDigest(request) } },
    ...(policy ?? {}),
  };
}
