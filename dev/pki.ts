/**
 * A local certificate authority for the local stack: it signs the TLS certificate of the IoT simulator and the
 * embedded Cosmos server (the real host names of DPS and IoT Hub as SANs), and device, intermediate and root
 * certificates for X.509 scenarios. Keys are ECDSA P-256; nothing here is ever used outside this machine.
 */
import 'reflect-metadata';

import { webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Issued {
  certPem: string;
  keyPem: string;
}

interface IssueOptions {
  subject: string;
  issuer?: Issued;
  isCa?: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore?: Date;
  notAfter?: Date;
  serverAuth?: boolean;
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(pem)[0], ALG, true, [
    'sign',
  ]) as Promise<webcrypto.CryptoKey>;
}

let serial = Date.now();

/** Issues a certificate: self-signed when no issuer is given. */
export async function issue(options: IssueOptions): Promise<Issued> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const issuerCert = options.issuer ? new x509.X509Certificate(options.issuer.certPem) : undefined;
  const signingKey = options.issuer ? await importKey(options.issuer.keyPem) : keys.privateKey;
  const names = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(!!options.isCa, undefined, true),
    new x509.KeyUsagesExtension(
      options.isCa
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (issuerCert) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (options.serverAuth) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
  else if (!options.isCa) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: (serial++).toString(16).padStart(16, '0'),
    subject: options.subject,
    issuer: issuerCert?.subject ?? options.subject,
    notBefore: options.notBefore ?? new Date(Date.now() - DAY),
    notAfter: options.notAfter ?? new Date(Date.now() + 365 * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

export const SIMULATOR_HOST_NAMES = [
  '*.azure-devices-provisioning.net',
  '*.azure-devices.net',
  // The local Azure Device Registry answers Azure Resource Manager's host name on the same listener.
  'management.azure.com',
  'localhost',
];

export interface LocalPki {
  ca: Issued;
  server: Issued;
  caFile: string;
}

/** The local CA and the servers' certificate, made once and kept under `dir` (reused while valid). */
export async function localPki(dir: string): Promise<LocalPki> {
  mkdirSync(dir, { recursive: true });
  const files = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
  };
  const kept = Object.values(files).every(existsSync) ? new X509Certificate(readFileSync(files.cert)) : undefined;
  // A certificate made before a host name joined the list is made again, so an old `.data/` keeps working.
  const fresh =
    !!kept &&
    new Date(kept.validTo).getTime() > Date.now() + 7 * DAY &&
    SIMULATOR_HOST_NAMES.every((name) => kept.subjectAltName?.includes(`DNS:${name}`));
  if (!fresh) {
    const ca = await issue({
      subject: 'CN=dps-lifecycle local CA',
      isCa: true,
      notAfter: new Date(Date.now() + 825 * DAY),
    });
    const server = await issue({
      subject: 'CN=dps-lifecycle local stack',
      issuer: ca,
      dnsNames: SIMULATOR_HOST_NAMES,
      ipAddresses: ['127.0.0.1'],
      serverAuth: true,
      notAfter: new Date(Date.now() + 397 * DAY),
    });
    writeFileSync(files.caCert, ca.certPem);
    writeFileSync(files.caKey, ca.keyPem, { mode: 0o600 });
    writeFileSync(files.cert, server.certPem);
    writeFileSync(files.key, server.keyPem, { mode: 0o600 });
  }
  const read = (f: string) => readFileSync(f, 'utf8');
  return {
    ca: { certPem: read(files.caCert), keyPem: read(files.caKey) },
    server: { certPem: read(files.cert), keyPem: read(files.key) },
    caFile: files.caCert,
  };
}
