/**
 * The manufacturers and TPM vendor CAs, read from their configuration document (a file locally, the `manufacturers`
 * policy document in Azure), validated, and kept for a short while so a busy import endpoint does not read it on
 * every call.
 */
import type { X509Certificate } from 'node:crypto';

import { type ImportConfig, type Manufacturer, parseImportConfig } from '../auth';
import type { CertificatePolicyRef } from '../certificate-policy';
import type { ConfigDocument } from '../ports';
import { readTrust } from './rules/ek-certificate';
import type { RowRules } from './rules/row';

export interface LoadedImportConfig {
  config: ImportConfig;
  ekTrust: X509Certificate[];
  /** The row rules of a maker's job: the job's certificate policy (or `none`) over the maker's default. */
  rulesFor(manufacturer: Manufacturer, job?: { certificatePolicy?: CertificatePolicyRef | 'none' }): RowRules;
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
      rulesFor: (m, job) => {
        const policy = job?.certificatePolicy ?? m.certificatePolicy;
        return {
          manufacturerId: m.id,
          registrationIdPrefix: m.registrationIdPrefix,
          ekTrust,
          ...(policy && policy !== 'none' ? { certificatePolicy: policy } : {}),
        };
      },
    };
    cached = { at: Date.now(), value };
    return value;
  };
}
