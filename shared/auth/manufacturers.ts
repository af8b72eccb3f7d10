/**
 * Who may import: the manufacturers, each with its namespace (a registration-ID prefix), the Entra ID applications
 * that act for it, and the TPM vendor CAs that EK certificates must chain to. Validated data, like the allocation
 * policy: a file locally, the `manufacturers` document of the `policies` container in Azure.
 */
import { validateImportConfig } from '../generated/config-validators';

export interface Manufacturer {
  id: string;
  displayName?: string;
  /** Registration IDs this manufacturer gives must start with it (derived TPM IDs are bound to the EK instead). */
  registrationIdPrefix?: string;
  /** Entra ID application (client) IDs whose tokens act for this manufacturer (`azp`/`appid` claim). */
  entraAppIds?: string[];
  /** PEM certificates whose keys sign the manufacturer's files: when set, every upload must carry a valid signature. */
  signingCertificates?: string[];
}

export interface ImportConfig {
  manufacturers: Manufacturer[];
  /** PEM certificates of TPM vendor roots and intermediates; when present, EK certificates must chain to a root. */
  tpmVendorCertificates?: string[];
}

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
  return config;
}
