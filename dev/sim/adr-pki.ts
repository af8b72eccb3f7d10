/**
 * The cryptography of the local Azure Device Registry: CA keys and certificates, and the operational certificates a
 * certificate policy issues from a device's CSR. Microsoft's pages fix the algorithms (concept-certificate-issuance:
 * ECC NIST P-384, SHA-384, for the CAs and for every certificate a policy issues; a CSR must carry a P-384 key, CN =
 * the registration ID, base64 DER PKCS#10 without PEM armour). Keys are ECDSA P-384 from `node:crypto`'s WebCrypto.
 */
import 'reflect-metadata';

import { createPublicKey, webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';

import type { Issued } from '../pki';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
const DAY = 86_400_000;

/** A certificate and its private key, PEM, as the local CA keeps them. */
export type CaMaterial = Issued;

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(pem)[0], ALG, true, ['sign']);
}

function serialNumber(): string {
  // A positive 16-byte serial: the top bit cleared so DER does not read it as negative.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  return Buffer.from(bytes).toString('hex');
}

/** A root (self-signed) or an intermediate CA (signed by `issuer`), ECC P-384, as ADR makes them. */
export async function createCa(subject: string, days: number, issuer?: CaMaterial): Promise<CaMaterial> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const issuerCert = issuer ? new x509.X509Certificate(issuer.certPem) : undefined;
  const extensions: x509.Extension[] = [
    // pathLen 0 under an intermediate: it signs devices only; the root may sign intermediates.
    new x509.BasicConstraintsExtension(true, issuer ? 0 : 1, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (issuerCert) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerCert));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: issuerCert?.subject ?? subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + days * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: issuer ? await importKey(issuer.keyPem) : keys.privateKey,
    extensions,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** Why a CSR is refused, in words DPS could say; the caller turns it into the API's error. */
export class CsrProblem extends Error {}

/**
 * Reads and checks a CSR as DPS documents it: base64 DER PKCS#10 (PEM armour refused), a valid self-signature (proof
 * of possession), CN exactly the registration ID, an EC P-384 key.
 */
export async function checkCsr(base64: string, registrationId: string): Promise<x509.Pkcs10CertificateRequest> {
  if (typeof base64 !== 'string' || base64.includes('-----BEGIN') || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64))
    throw new CsrProblem('csr must be a base64 DER PKCS#10 request without PEM headers and footers.');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(Buffer.from(base64, 'base64'));
  } catch {
    throw new CsrProblem('csr is not a DER PKCS#10 certificate signing request.');
  }
  if (!(await csr.verify().catch(() => false))) throw new CsrProblem("csr's signature does not verify.");
  const cn = csr.subjectName.getField('CN');
  if (cn.length !== 1 || cn[0] !== registrationId)
    throw new CsrProblem(`csr's CN (${cn.join(',') || 'none'}) must be exactly the registration ID ${registrationId}.`);
  const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1')
    throw new CsrProblem("csr's key must be an EC key on NIST P-384 (secp384r1).");
  return csr;
}

/** The operational certificate a policy issues: the CSR's subject and key, signed by the issuing CA, for `days`. */
export async function issueLeaf(
  csr: x509.Pkcs10CertificateRequest,
  issuing: CaMaterial,
  days: number,
  now = new Date(),
): Promise<Buffer> {
  const issuerCert = new x509.X509Certificate(issuing.certPem);
  const publicKey = await csr.publicKey.export({ name: 'ECDSA', namedCurve: 'P-384' }, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: csr.subject,
    issuer: issuerCert.subject,
    notBefore: now,
    notAfter: new Date(now.getTime() + days * DAY),
    signingAlgorithm: ALG,
    publicKey,
    signingKey: await importKey(issuing.keyPem),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuerCert),
    ],
  });
  return Buffer.from(cert.rawData);
}

/** DER of a PEM certificate. */
export const derOf = (pem: string): Buffer => Buffer.from(new x509.X509Certificate(pem).rawData);
