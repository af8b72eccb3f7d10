/**
 * The DPS instance's verified CA certificates, for the inventory: a file locally, the `dps-ca-certificates` document
 * of the `policies` container in Azure (`{ "certificates": [{ "name", "pem" }] }`, kept by the operator who verifies
 * them in DPS). Reading them from DPS's management API (`@azure/arm-deviceprovisioningservices`) is the next step.
 */
import { readFile } from 'node:fs/promises';
import { CONTAINERS } from '../containers';
import type { DocumentStore } from '../ports';
import { setting, type Env } from '../settings';

export const CA_DOCUMENT_ID = 'dps-ca-certificates';

export interface CaCertificate {
  name: string;
  pem: string;
}

export function caCertificatesSource(env: Env, store: () => Promise<DocumentStore>): () => Promise<CaCertificate[]> {
  const file = setting(env, 'dpsCaCertificatesFile');
  return async () => {
    const doc = (file
      ? JSON.parse(await readFile(file, 'utf8'))
      : await (await store()).container(CONTAINERS.policies.name).read(CA_DOCUMENT_ID, CA_DOCUMENT_ID)) as { certificates?: CaCertificate[] } | undefined;
    return (doc?.certificates ?? []).filter((c) => typeof c?.name === 'string' && typeof c?.pem === 'string');
  };
}
