/**
 * What the local Azure Device Registry keeps: its ARM resources (namespaces, CAs, policies, registry devices) and the
 * intermediates revokeAndRotate replaced, in one JSON file under the stack's data directory, the CA keys beside it in
 * `keys/`, and the async operations in memory. Names are looked up lower-cased.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { CaMaterial } from './adr-pki';

export const PROVIDER = 'Microsoft.DeviceRegistry';

export type ArmResource = {
  id: string;
  name: string;
  type: string;
  location?: string;
  tags?: Record<string, string>;
  etag?: string;
  properties: Record<string, unknown>;
};

interface Snapshot {
  namespaces: Record<string, ArmResource>;
  cas: Record<string, ArmResource>;
  policies: Record<string, ArmResource>;
  devices: Record<string, ArmResource>;
  /** Certificates of intermediates that revokeAndRotate replaced: never trusted again. */
  revoked: string[];
}

export interface AsyncOperation {
  id: string;
  name: string;
  status: 'InProgress' | 'Succeeded' | 'Failed';
  startTime: string;
  endTime?: string;
  percentComplete?: number;
  error?: { code: string; message: string };
}

export const k = (...parts: string[]) => parts.map((p) => p.toLowerCase()).join('/');

export class AdrStore {
  protected data: Snapshot = { namespaces: {}, cas: {}, policies: {}, devices: {}, revoked: [] };
  readonly operations = new Map<string, AsyncOperation>();

  constructor(
    private readonly dir: string,
    readonly location = 'local',
  ) {
    mkdirSync(join(dir, 'keys'), { recursive: true, mode: 0o700 });
    const file = join(dir, 'adr.json');
    if (existsSync(file)) this.data = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  }

  protected save(): void {
    writeFileSync(join(this.dir, 'adr.json'), JSON.stringify(this.data, null, 1));
  }

  protected keyFile = (ns: string, ca: string) =>
    join(this.dir, 'keys', `${ns.toLowerCase()}--${ca.toLowerCase()}.pem`);

  protected material(ns: string, ca: string): CaMaterial {
    const resource = this.data.cas[k(ns, ca)];
    return {
      certPem: resource.properties.certificatePem as string,
      keyPem: readFileSync(this.keyFile(ns, ca), 'utf8'),
    };
  }

  namespace = (ns: string) => this.data.namespaces[k(ns)];
  ca = (ns: string, ca: string) => this.data.cas[k(ns, ca)];
  policy = (ns: string, ca: string, p: string) => this.data.policies[k(ns, ca, p)];
  device = (ns: string, d: string) => this.data.devices[k(ns, d)];
  casOf = (ns: string) => Object.entries(this.data.cas).filter(([key]) => key.startsWith(k(ns) + '/'));
  policiesOf = (ns: string, ca: string) =>
    Object.entries(this.data.policies).filter(([key]) => key.startsWith(k(ns, ca) + '/'));
  devicesOf = (ns: string) => Object.entries(this.data.devices).filter(([key]) => key.startsWith(k(ns) + '/'));
}

/** The read-only fields ARM shows of a CA's certificate; the PEM itself stays private to the simulator. */
export function certificateFields(certPem: string): Record<string, unknown> {
  const cert = new X509Certificate(certPem);
  return {
    subject: cert.subject.split('\n').join(', '),
    validityNotBefore: new Date(cert.validFrom).toISOString(),
    validityNotAfter: new Date(cert.validTo).toISOString(),
    certificatePem: certPem,
  };
}
