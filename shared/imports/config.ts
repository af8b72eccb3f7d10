/**
 * The manufacturers and TPM vendor CAs, read from their configuration document (a file locally, the `manufacturers`
 * policy document in Azure), validated, and kept for a short while so a busy import endpoint does not read it on
 * every call.
 */
import type { X509Certificate } from 'node:crypto';

import { type ImportConfig, type Manufacturer, parseImportConfig } from '../auth';
import type { ConfigDocument } from '../ports';
import { readTrust } from './rules/ek-certificate';
import type { RowRules } from './rules/row';

export interface LoadedImportConfig {
  config: ImportConfig;
  ekTrust: X509Certificate[];
  rulesFor(manufacturer: Manufacturer): RowRules;
}

const TTL_MS = 30_000;

export function importConfigSource(source: ConfigDocument): () => Promise<LoadedImportConfig> {
  let cached: { at: number; value: LoadedImportConfig } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < TTL_MS) return cached.value;
    const doc = (await source.read())?.doc;
    const config = parseImportConfig(doc ?? { manufacturers: [] });
    const ekTrust = readTrust(config.tpmVendorCertificates ?? []);
    const value: LoadedImportConfig = {
      config,
      ekTrust,
      rulesFor: (m) => ({ manufacturerId: m.id, registrationIdPrefix: m.registrationIdPrefix, ekTrust }),
    };
    cached = { at: Date.now(), value };
    return value;
  };
}
