/** Helpers of the TPM tests: the official client's callbacks as promises, and an EK certificate put in NV as a vendor would. */
import { createHmac, webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';
import { TpmSecurityClient } from 'azure-iot-security-tpm';
import {
  Endorsement,
  NullPwSession,
  NullSymDef,
  Owner,
  Session,
  TPM_ALG_ID,
  TPM_HANDLE,
  TPM_SE,
  TPM2B_ENCRYPTED_SECRET,
  TPMA_NV,
  TpmBuffer,
  TPMS_ID_OBJECT,
  TPMS_NV_PUBLIC,
} from 'tss.js';

import { openTpm } from '../../cli/tpm/connection';
import { call, type Callback, EK_CERTIFICATE_NV_INDEX } from '../../cli/tpm/identity';
import { readRsaStorageKey } from '../../dev/sim/tpm/structures';

/** The official client on one TPM, for one test step; swtpm serves one connection at a time, so close it after. */
export async function tpmClient(address: string) {
  const connection = await openTpm(address);
  const client = new TpmSecurityClient(undefined, connection.tpm);
  return {
    endorsementKey: () => call<Buffer>((done) => client.getEndorsementKey(done)),
    storageRootKey: () => call<Buffer>((done) => client.getStorageRootKey(done)),
    registrationId: () => call<string>((done) => client.getRegistrationId(done)),
    activate: (blob: Buffer) => call<void>((done) => client.activateIdentityKey(blob, done as Callback<void>)),
    sign: (data: Buffer) => call<Buffer>((done) => client.signWithIdentity(data, done)),
    close: () => connection.close(),
  };
}

export const hmac = (base64Key: string | Buffer, data: Buffer) =>
  createHmac('sha256', typeof base64Key === 'string' ? Buffer.from(base64Key, 'base64') : base64Key)
    .update(data)
    .digest();

/** A vendor's EK certificate for `endorsementKey` (TPM2B_PUBLIC), issued by a throwaway CA: DER. */
export async function ekCertificateFor(endorsementKey: Buffer): Promise<Buffer> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const ca = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const spki = readRsaStorageKey(endorsementKey, 'EK').publicKey.export({ format: 'der', type: 'spki' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, alg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a1b',
    subject: 'CN=TPM EK',
    issuer: 'CN=Test TPM Vendor CA',
    notBefore: new Date(),
    notAfter: new Date(Date.now() + 365 * 86_400_000),
    publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: alg,
  });
  return Buffer.from(cert.rawData);
}

/** Writes `der` at the TCG EK certificate index, readable with its empty authorization, as a TPM vendor does. */
export async function provisionEkCertificate(address: string, der: Buffer): Promise<void> {
  const { tpm, close } = await openTpm(address);
  try {
    await call<void>((done) => (tpm.connect as (d: Callback<void>) => void)(done));
    const index = new TPM_HANDLE(EK_CERTIFICATE_NV_INDEX);
    const attributes = TPMA_NV.AUTHREAD | TPMA_NV.AUTHWRITE | TPMA_NV.OWNERREAD | TPMA_NV.NO_DA;
    const nvPublic = new TPMS_NV_PUBLIC(index, TPM_ALG_ID.SHA256, attributes, Buffer.alloc(0), der.length);
    await call<void>((done) => tpm.withSession(NullPwSession).NV_DefineSpace(Owner, Buffer.alloc(0), nvPublic, done));
    for (let offset = 0; offset < der.length; offset += 512)
      await call<void>((done) =>
        tpm.withSession(NullPwSession).NV_Write(index, index, der.subarray(offset, offset + 512), offset, done),
      );
  } finally {
    close();
  }
}

/**
 * TPM2_ActivateCredential alone, on the blob's first two parts, with the client's persisted EK (0x81010001) and SRK
 * (0x81000001): resolves the credential, or rejects with the TPM's response code. The official client cannot be used
 * to see a refusal: it throws from a timer when ActivateCredential fails (azure-iot-security-tpm 1.9.3, tpm.js:424).
 */
export async function activateCredential(address: string, blob: Buffer): Promise<Buffer> {
  const { tpm, close } = await openTpm(address);
  try {
    await call<void>((done) => (tpm.connect as (d: Callback<void>) => void)(done));
    const buf = new TpmBuffer(blob);
    const credentialBlob = buf.createSizedObj(TPMS_ID_OBJECT);
    const secret = buf.createObj(TPM2B_ENCRYPTED_SECRET).secret;
    const session = await call<{ handle: TPM_HANDLE; nonceTPM: Buffer }>((done) =>
      tpm.StartAuthSession(
        new TPM_HANDLE(0x40000007), // TPM_RH_NULL
        new TPM_HANDLE(0x40000007),
        Buffer.alloc(20, 1),
        Buffer.alloc(0),
        TPM_SE.POLICY,
        NullSymDef,
        TPM_ALG_ID.SHA256,
        done,
      ),
    );
    const policy = new Session(session.handle, session.nonceTPM);
    // The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT), as the client satisfies it.
    await call((done) =>
      tpm.PolicySecret(Endorsement, session.handle, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), 0, done),
    );
    try {
      return await call<Buffer>((done) =>
        tpm
          .allowErrors()
          .withSessions(NullPwSession, policy)
          .ActivateCredential(
            new TPM_HANDLE(0x81000001),
            new TPM_HANDLE(0x81010001),
            credentialBlob,
            secret,
            (err, res) =>
              done(err ? new Error(`ActivateCredential: TPM_RC 0x${err.responseCode.toString(16)}`) : null, res),
          ),
      );
    } finally {
      await call((done) => tpm.FlushContext(session.handle, done)).catch(() => undefined);
    }
  } finally {
    close();
  }
}
