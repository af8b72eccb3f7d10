/**
 * The DPS instance's verified CA certificates, for the inventory: a file locally, the `dps-ca-certificates` document
 * of the `policies` container in Azure (`{ "certificates": [{ "name", "pem" }] }`, kept by the operator who verifies
 * them in DPS). Reading them from DPS's management API (`@azure/arm-deviceprovisioningservices`) is the next step.
 */
import type { ConfigDocument } from '../ports';

export const CA_DOCUMENT_ID = 'dps-ca-certificates';

export interface CaCertificate {
  name: string;
  pem: string;
}

export function caCertificatesSource(source: ConfigDocument): () => Promise<CaCertificate[]> {
  return async () => {
    const doc = (await source.read())?.doc as { certificates?: CaCertificate[] } | undefined;
    return (doc?.certificates ?? []).filter((c) => typeof c?.name === 'string' && typeof c?.pem === 'string');
  };
}
