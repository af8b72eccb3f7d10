/**
 * One row of a maker's file, checked on its own: the EK (TPM2B_PUBLIC, or SPKI converted), the registration ID
 * (given, within the maker's namespace, or derived as the TPM SDKs do), the known columns, and the rest as tags.
 * and the EK certificate when there is one. Duplicates across rows are the job of `FileDuplicates`.
 */
import type { X509Certificate } from 'node:crypto';

import { type CertificatePolicyRef, readCertificatePolicy } from '../../certificate-policy';
import { ekCertificateProblem } from './ek-certificate';
import { readEndorsementKey } from './endorsement-key';
import { endorsementKeyHash, registrationIdFromHash, registrationIdProblem } from './registration-id';

/** A row as read from the file: its line (CSV/NDJSON) or position (JSON array), and its fields as text. */
export interface RawRow {
  line: number;
  fields: Record<string, string>;
}

export interface RowRules {
  manufacturerId: string;
  /** Registration IDs the maker gives must start with this; derived IDs are bound to the EK and need none. */
  registrationIdPrefix?: string;
  /** TPM vendor roots and intermediates: when given, an EK certificate must chain to one of the roots. */
  ekTrust?: readonly X509Certificate[];
  /** The policy a row names when its `certificatePolicy` column is empty: the job's, else the maker's default. */
  certificatePolicy?: CertificatePolicyRef;
}

export interface ValidRow {
  status: 'valid';
  line: number;
  registrationId: string;
  derivedId: boolean;
  /** Base64 of the TPM2B_PUBLIC, as DPS takes it. */
  endorsementKey: string;
  /** Hex SHA-256 of the TPM2B_PUBLIC: the EK's identity across files and jobs. */
  ekHash: string;
  ekCertificate?: string;
  serialNumber?: string;
  model?: string;
  lot?: string;
  /** The ADR certificate policy its enrollment names, so DPS issues its certificates. */
  certificatePolicy?: CertificatePolicyRef;
  /** Extra columns: they become initial-twin tags under `maker`. */
  tags: Record<string, string>;
  notes: string[];
}

export interface RefusedRow {
  status: 'invalid' | 'duplicate';
  line: number;
  registrationId?: string;
  reason: string;
}

export type RowVerdict = ValidRow | RefusedRow;

export const KNOWN_COLUMNS = [
  'registrationId',
  'endorsementKey',
  'ekCertificate',
  'serialNumber',
  'model',
  'lot',
  'certificatePolicy',
] as const;
const KNOWN = new Set<string>(KNOWN_COLUMNS);
/** Twin tag names: no `.`, `$`, `#` or space (IoT Hub), and short enough to index. */
const TAG_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_TAG_VALUE = 512;
/** serialNumber, model and lot: 1–128 printable ASCII characters. */
export const ROW_ATTRIBUTE = /^[\x20-\x7e]{1,128}$/;

const invalid = (line: number, reason: string, registrationId?: string): RefusedRow => ({
  status: 'invalid',
  line,
  reason,
  ...(registrationId ? { registrationId } : {}),
});

export function validateRow(row: RawRow, ns: RowRules): RowVerdict {
  const f = row.fields;
  const givenId = f.registrationId?.trim() || undefined;
  const ek = readEndorsementKey(f.endorsementKey ?? '');
  if (!ek.ok) return invalid(row.line, ek.reason, givenId);
  const hash = endorsementKeyHash(ek.ek.bytes);
  const derived = registrationIdFromHash(hash);
  // A given ID that is the EK's own (what a harvest station writes) is bound to the key like a derived one.
  const ownId = givenId?.toLowerCase() === derived;
  let registrationId = givenId;
  if (givenId !== undefined && !ownId) {
    const problem = registrationIdProblem(givenId);
    if (problem) return invalid(row.line, problem, givenId);
    if (ns.registrationIdPrefix && !givenId.toLowerCase().startsWith(ns.registrationIdPrefix.toLowerCase())) {
      return invalid(
        row.line,
        `registrationId must start with ${ns.registrationIdPrefix} (manufacturer ${ns.manufacturerId})`,
        givenId,
      );
    }
  } else registrationId = derived;

  const verdict: ValidRow = {
    status: 'valid',
    line: row.line,
    registrationId: (registrationId as string).toLowerCase(),
    derivedId: givenId === undefined || ownId,
    endorsementKey: ek.ek.bytes.toString('base64'),
    ekHash: hash.toString('hex'),
    tags: {},
    notes: [],
  };
  if (ek.ek.convertedFrom)
    verdict.notes.push('endorsementKey was a SubjectPublicKeyInfo, converted to TPM2B_PUBLIC (template L-1)');
  for (const name of ['serialNumber', 'model', 'lot'] as const) {
    const value = f[name]?.trim();
    if (!value) continue;
    if (!ROW_ATTRIBUTE.test(value))
      return invalid(row.line, `${name} must be 1–128 printable ASCII characters`, verdict.registrationId);
    verdict[name] = value;
  }
  // The row's own column (`namespace/authority/policy`, or `none`) wins over the job's and the maker's default.
  const named = readCertificatePolicy(f.certificatePolicy);
  if (!named.ok) return invalid(row.line, named.reason, verdict.registrationId);
  const policy = named.given ? named.policy : ns.certificatePolicy;
  if (policy) verdict.certificatePolicy = policy;
  const cert = f.ekCertificate?.trim();
  if (!cert && ns.ekTrust?.length)
    return invalid(
      row.line,
      'ekCertificate is required: TPM vendor CAs are configured, and only an EK certificate that chains to one shows the key is a genuine TPM’s',
      verdict.registrationId,
    );
  if (cert) {
    const problem = ekCertificateProblem(cert, ek.ek.key, ns.ekTrust);
    if (problem) return invalid(row.line, problem, verdict.registrationId);
    verdict.ekCertificate = cert;
  }
  for (const [name, raw] of Object.entries(f)) {
    if (KNOWN.has(name)) continue;
    const value = raw?.trim();
    if (!value) continue;
    if (!TAG_NAME.test(name))
      return invalid(
        row.line,
        `column "${name}" cannot be a twin tag (letters, digits, _ and - only, up to 64)`,
        verdict.registrationId,
      );
    if (value.length > MAX_TAG_VALUE)
      return invalid(row.line, `column "${name}" is longer than ${MAX_TAG_VALUE} characters`, verdict.registrationId);
    verdict.tags[name] = value;
  }
  return verdict;
}
