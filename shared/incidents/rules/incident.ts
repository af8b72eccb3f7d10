/**
 * A breach incident as an operator or security tooling reports it (HTTP body or Event Hubs alert, one JSON shape):
 * `{ id, reason, mode: "contain" | "quarantine", scope: { registrationIds?, deviceIds?, certificateThumbprints?,
 * caCertificate?, issuerThumbprint?, enrollmentGroupId?, lot?: { manufacturer, lot }, certificatePolicy? } }`. Parsing
 * refuses anything unclear, with the reason. A lot is named with its maker: lot names are the makers' own, and two
 * makers may use the same one. A compromised CA is best named by its certificate (PEM): only with it can DPS be told
 * to disallow it. A compromised ADR certificate policy (`namespace/certificateAuthority/policy`) names the
 * intermediate that issues for it: that one is revoked and rotated, which cannot be undone.
 */
import { X509Certificate } from 'node:crypto';

import { parseCertificateText, type Parsed } from '../../allocation';
import { type CertificatePolicyRef, readCertificatePolicy } from '../../certificate-policy';

export type IncidentMode = 'contain' | 'quarantine';

export interface IncidentScope {
  registrationIds?: string[];
  deviceIds?: string[];
  certificateThumbprints?: string[];
  /** The compromised CA's certificate, PEM (normalised); `issuerThumbprint` is then its SHA-256 thumbprint. */
  caCertificate?: string;
  issuerThumbprint?: string;
  enrollmentGroupId?: string;
  /** A maker's lot: the enrollments the import tagged `manufacturer` and `lot`. */
  lot?: LotScope;
  /** A compromised ADR certificate policy: its issuing CA is revoked and rotated (irreversible). */
  certificatePolicy?: CertificatePolicyRef;
}

export interface LotScope {
  manufacturer: string;
  lot: string;
}

export interface IncidentRequest {
  id: string;
  reason: string;
  mode: IncidentMode;
  scope: IncidentScope;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const THUMBPRINT = /^(?:[0-9A-Fa-f]{2}:?){20}$|^(?:[0-9A-Fa-f]{2}:?){32}$/;
/**
 * IDs named one by one, per list: the request is kept in the incident document, which Cosmos DB caps at 2 MB. A
 * larger set is a group, a CA or a lot — or several incidents.
 */
export const MAX_IDS = 20_000;
/** A CA certificate is a few kilobytes; a chain or a bundle is not one certificate. */
export const MAX_CA_CERTIFICATE_CHARS = 16 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringList(value: unknown, name: string, check?: (s: string) => boolean): Parsed<string[] | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  if (!Array.isArray(value) || value.length === 0)
    return { ok: false, reason: `scope.${name} must be a non-empty array of strings` };
  if (value.length > MAX_IDS)
    return {
      ok: false,
      reason: `scope.${name} holds ${value.length} entries; at most ${MAX_IDS} per incident (name a group, a CA or a lot instead, or split it)`,
    };
  const bad = value.find((v) => typeof v !== 'string' || v.trim() === '' || (check && !check(v)));
  if (bad !== undefined) return { ok: false, reason: `scope.${name} has an invalid entry: ${JSON.stringify(bad)}` };
  return { ok: true, value: [...new Set(value as string[])] };
}

function parseLot(value: unknown): Parsed<LotScope> {
  const shape = 'scope.lot must be { "manufacturer": "<id>", "lot": "<name>" }, both non-empty strings';
  if (!isObject(value)) return { ok: false, reason: shape };
  const unknown = Object.keys(value).filter((k) => k !== 'manufacturer' && k !== 'lot');
  if (unknown.length) return { ok: false, reason: `scope.lot has unknown fields: ${unknown.join(', ')}; ${shape}` };
  const { manufacturer, lot } = value;
  if (typeof manufacturer !== 'string' || !manufacturer.trim() || typeof lot !== 'string' || !lot.trim())
    return { ok: false, reason: shape };
  return { ok: true, value: { manufacturer, lot } };
}

export const normalizeThumbprint = (t: string) => t.replace(/:/g, '').toUpperCase();

const thumbprintsOf = (cert: X509Certificate) => [cert.fingerprint, cert.fingerprint256].map(normalizeThumbprint);

/** The CA certificate an incident names: one certificate, PEM or base64 DER, of a CA (basicConstraints CA:TRUE). */
function parseCaCertificate(value: unknown): Parsed<X509Certificate> {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_CA_CERTIFICATE_CHARS)
    return {
      ok: false,
      reason: `scope.caCertificate must be one PEM certificate of at most ${MAX_CA_CERTIFICATE_CHARS} characters`,
    };
  if ((value.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length > 1)
    return { ok: false, reason: 'scope.caCertificate holds several certificates: name the compromised CA alone' };
  const cert = parseCertificateText(value);
  if (!cert) return { ok: false, reason: 'scope.caCertificate is not an X.509 certificate (PEM or base64 DER)' };
  if (!cert.ca)
    return {
      ok: false,
      reason:
        'scope.caCertificate is not a CA certificate (basicConstraints CA:TRUE): name a device certificate in certificateThumbprints',
    };
  return { ok: true, value: cert };
}

/** `namespace/certificateAuthority/policy`, each name to DPS's pattern; never `none` (it names nothing). */
function parsePolicy(value: unknown): Parsed<CertificatePolicyRef> {
  const shape = 'scope.certificatePolicy must be "namespace/certificateAuthority/policy"';
  if (typeof value !== 'string' || value.length > 200) return { ok: false, reason: shape };
  const read = readCertificatePolicy(value);
  if (!read.ok) return { ok: false, reason: `scope.${read.reason}` };
  if (!read.policy) return { ok: false, reason: `${shape}: "${value}" names no policy` };
  return { ok: true, value: read.policy };
}

export function parseIncident(body: unknown): Parsed<IncidentRequest> {
  if (!isObject(body)) return { ok: false, reason: 'The body must be a JSON object with id, reason, mode and scope.' };
  const { id, reason, mode, scope } = body;
  if (typeof id !== 'string' || !ID.test(id))
    return {
      ok: false,
      reason: 'id must be 1–128 letters, digits or . _ : - (it makes a redelivered alert idempotent)',
    };
  if (typeof reason !== 'string' || reason.trim() === '')
    return { ok: false, reason: 'reason is required: it goes into the deny list and the audit trail' };
  if (mode !== 'contain' && mode !== 'quarantine')
    return { ok: false, reason: 'mode must be contain (delete hub registrations) or quarantine (disable them)' };
  if (!isObject(scope)) return { ok: false, reason: 'scope is required' };
  const known = [
    'registrationIds',
    'deviceIds',
    'certificateThumbprints',
    'caCertificate',
    'issuerThumbprint',
    'enrollmentGroupId',
    'lot',
    'certificatePolicy',
  ];
  if ('manufacturerLot' in scope)
    return {
      ok: false,
      reason:
        'scope.manufacturerLot is no longer accepted: name the lot with its maker, scope.lot: { "manufacturer": "<id>", "lot": "<name>" }',
    };
  const unknown = Object.keys(scope).filter((k) => !known.includes(k));
  if (unknown.length)
    return { ok: false, reason: `scope has unknown fields: ${unknown.join(', ')} (known: ${known.join(', ')})` };
  const out: IncidentScope = {};
  for (const [name, check] of [
    ['registrationIds'],
    ['deviceIds'],
    ['certificateThumbprints', (s: string) => THUMBPRINT.test(s)],
  ] as const) {
    const list = stringList(scope[name], name, check);
    if (!list.ok) return list;
    if (list.value)
      out[name] = name === 'certificateThumbprints' ? [...new Set(list.value.map(normalizeThumbprint))] : list.value;
  }
  if (scope.lot !== undefined) {
    const lot = parseLot(scope.lot);
    if (!lot.ok) return lot;
    out.lot = lot.value;
  }
  for (const name of ['issuerThumbprint', 'enrollmentGroupId'] as const) {
    const v = scope[name];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.trim() === '')
      return { ok: false, reason: `scope.${name} must be a non-empty string` };
    if (name === 'issuerThumbprint' && !THUMBPRINT.test(v))
      return { ok: false, reason: 'scope.issuerThumbprint must be a SHA-1 or SHA-256 thumbprint in hex' };
    out[name] = name === 'issuerThumbprint' ? normalizeThumbprint(v) : v;
  }
  if (scope.certificatePolicy !== undefined) {
    const policy = parsePolicy(scope.certificatePolicy);
    if (!policy.ok) return policy;
    out.certificatePolicy = policy.value;
  }
  if (scope.caCertificate !== undefined) {
    const ca = parseCaCertificate(scope.caCertificate);
    if (!ca.ok) return ca;
    const thumbs = thumbprintsOf(ca.value);
    if (out.issuerThumbprint && !thumbs.includes(out.issuerThumbprint))
      return { ok: false, reason: 'scope.issuerThumbprint is not the thumbprint of scope.caCertificate' };
    out.caCertificate = ca.value.toString();
    out.issuerThumbprint = out.issuerThumbprint ?? thumbs[1];
  }
  if (Object.keys(out).length === 0) return { ok: false, reason: 'scope names nothing to contain' };
  return { ok: true, value: { id, reason: reason.trim(), mode, scope: out } };
}

/**
 * What a security alert may not ask for, though an admin may (review finding 5): an alert's submitter is a machine
 * (`alert:security-alerts`), so a plan's four eyes — an admin other than its submitter — would be one human; a
 * certificate policy's rotation is irreversible, and is reported by an admin over HTTP, where it needs two. Undefined
 * when the alert may be taken.
 */
export function alertRefusal(request: IncidentRequest): string | undefined {
  if (request.scope.certificatePolicy)
    return 'scope.certificatePolicy: a security alert may not ask for an ADR certificate policy to be revoked and rotated (irreversible); an admin reports it with POST /api/incidents, and another admin approves it';
  return undefined;
}
