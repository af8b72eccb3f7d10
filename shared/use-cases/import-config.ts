/**
 * The manufacturers and TPM vendor CAs, read from the file (local) or the `manufacturers` policy document (Azure),
 * validated, and kept for a short while so a busy import endpoint does not read it on every call.
 */
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseImportConfig, MANUFACTURERS_DOCUMENT_ID, type ImportConfig, type Manufacturer } from '../auth/manufacturers';
import { CONTAINERS } from '../containers';
import { readTrust } from '../enrollment/ek-certificate';
import type { RowRules } from '../enrollment/row';
import type { DocumentStore } from '../ports';
import { setting, type Env } from '../settings';

export interface LoadedImportConfig {
  config: ImportConfig;
  ekTrust: X509Certificate[];
  rulesFor(manufacturer: Manufacturer): RowRules;
}

const TTL_MS = 30_000;

export function importConfigSource(env: Env, store: () => Promise<DocumentStore>): () => Promise<LoadedImportConfig> {
  let cached: { at: number; value: LoadedImportConfig } | undefined;
  const file = setting(env, 'manufacturersFile');
  return async () => {
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    const doc = file
      ? JSON.parse(await readFile(file, 'utf8'))
      : await (await store()).container(CONTAINERS.policies.name).read(MANUFACTURERS_DOCUMENT_ID, MANUFACTURERS_DOCUMENT_ID);
    const config = parseImportConfig(doc ?? { manufacturers: [] });
    const ekTrust = readTrust(config.tpmVendorCertificates ?? []);
    const value: LoadedImportConfig = {
      config, ekTrust,
      rulesFor: (m) => ({ manufacturerId: m.id, registrationIdPrefix: m.registrationIdPrefix, ekTrust }),
    };
    cached = { at: Date.now(), value };
    return value;
  };
}
