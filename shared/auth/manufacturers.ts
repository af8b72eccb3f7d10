/**
 * Who may import: the manufacturers, each with its namespace (a registration-ID prefix), the Entra ID applications
 * that act for it, and the TPM vendor CAs that EK certificates must chain to. Validated data, like the allocation
 * policy: a file locally, the `manufacturers` document of the `policies` container in Azure.
 */
import type { CertificatePolicyRef } from '../certificate-policy';
import { validateImportConfig } from '../generated/config-validators';

export interface Manufacturer {
  id: string;
  displayName?: string;
  /**
   * Registration IDs this manufacturer gives must start with it; no two manufacturers' prefixes overlap. (IDs derived
   * from the EK, as the TPM SDKs compute them, cannot carry it: they are bound to the EK, whose first claim wins.)
   */
  registrationIdPrefix: string;
  /** Entra ID application (client) IDs whose tokens act for this manufacturer (`azp`/`appid` claim). */
  entraAppIds?: string[];
  /** PEM certificates whose keys sign the manufacturer's files: when set, every upload must carry a valid signature. */
  signingCertificates?: string[];
  /**
   * The ADR certificate policy its imported enrollments name, so its devices can have DPS issue them certificates;
   * a job (`certificatePolicy` parameter) or a row (`certificatePolicy` column) may name another, or `none`.
   */
  certificatePolicy?: CertificatePolicyRef;
}

export interface ImportConfig {
  manufacturers: Manufacturer[];
  /** PEM certificates of TPM vendor roots and intermediates; when present, EK certificates must chain to a root. */
  tpmVendorCertificates?: string[];
}

const key = (m: Manufacturer) => (m.registrationIdPrefix ?? '').toLowerCase();

export const MANUFACTURERS_DOCUMENT_ID = 'manufacturers';

export function parseImportConfig(doc: unknown): ImportConfig {
  if (!validateImportConfig(doc))
    throw new Error(
      `manufacturers configuration is invalid: ${validateImportConfig.errors?.map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ')}`,
    );
  const config = doc as unknown as ImportConfig;
  const ids = new Set<string>();
  for (const m of config.manufacturers) {
    if (ids.has(m.id)) throw new Error(`manufacturers configuration is invalid: ${m.id} appears twice`);
    ids.add(m.id);
  }
  const overlap = overlappingPrefixes(config.manufacturers);
  if (overlap)
    throw new Error(
      `manufacturers configuration is invalid: the registration-ID prefixes of ${overlap[0].id} (${overlap[0].registrationIdPrefix}) and ${overlap[1].id} (${overlap[1].registrationIdPrefix}) overlap, so one could enroll IDs in the other's namespace; give each a prefix no other starts with`,
    );
  return config;
}

/** Two manufacturers one of whose prefixes starts with the other's (IDs compared case-insensitively), if any. */
function overlappingPrefixes(manufacturers: Manufacturer[]): [Manufacturer, Manufacturer] | undefined {
  // Sorted, a prefix comes right before the prefixes that start with it: neighbours are enough.
  const sorted = [...manufacturers].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  for (let i = 1; i < sorted.length; i++)
    if (key(sorted[i]).startsWith(key(sorted[i - 1]))) return [sorted[i - 1], sorted[i]];
  return undefined;
}
