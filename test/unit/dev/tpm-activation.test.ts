/**
 * DPS's side of TPM attestation, checked without a TPM: a software TPM (the RSA private keys of an EK and SRK made
 * here) unwraps the activation blob step by step as TPM2_ActivateCredential and TPM2_Import do, checking every
 * integrity value. The real TPM (swtpm) checks the same blobs in test/integration/allocation/tpm-provisioning.test.ts.
 */
import {
  constants,
  createDecipheriv,
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
} from 'node:crypto';

import { parseSas, sign } from '../../../dev/sim/sas';
import { emptyState } from '../../../dev/sim/state';
import { activationBlob, kdfa } from '../../../dev/sim/tpm/activation';
import { objectName, readRsaStorageKey, sha256 } from '../../../dev/sim/tpm/structures';
import { attestTpm, tpmChallenge } from '../../../dev/sim/tpm-attestation';
import { endorsementKeyFromRsa } from '../../../shared/imports/rules/tpm-public';

/** An RSA-2048 key as a TPM would report it (template L-1), with its private half. */
function tpmKey(): { pub: Buffer; priv: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  const modulus = Buffer.from(jwk.n as string, 'base64url');
  return { pub: endorsementKeyFromRsa({ modulus, exponent: 65537 }), priv: privateKey };
}

class Cursor {
  at = 0;
  constructor(private readonly bytes: Buffer) {}
  sized(): Buffer {
    const size = this.bytes.readUInt16BE(this.at);
    const value = this.bytes.subarray(this.at + 2, this.at + 2 + size);
    expect(value).toHaveLength(size);
    this.at += 2 + size;
    return value;
  }
  get done(): boolean {
    return this.at === this.bytes.length;
  }
}

const cfbDecrypt = (key: Buffer, data: Buffer) => {
  const d = createDecipheriv(`aes-${key.length * 8}-cfb`, key, Buffer.alloc(16));
  return Buffer.concat([d.update(data), d.final()]);
};
const oaepDecrypt = (priv: KeyObject, label: string, data: Buffer) =>
  privateDecrypt(
    { key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from(`${label}\0`) },
    data,
  );

/** The outer wrapper undone as the TPM does it: the HMAC checked first, then the decryption. */
function unwrapOuter(seed: Buffer, name: Buffer, wrapped: Buffer): Buffer {
  const c = new Cursor(wrapped);
  const integrity = c.sized();
  const encrypted = wrapped.subarray(c.at);
  const hmacKey = kdfa(seed, 'INTEGRITY', Buffer.alloc(0), Buffer.alloc(0), 256);
  expect(createHmac('sha256', hmacKey).update(encrypted).update(name).digest()).toEqual(integrity);
  return cfbDecrypt(kdfa(seed, 'STORAGE', name, Buffer.alloc(0), 128), encrypted);
}

/** What a TPM holding `ek` and `srk` recovers from the blob: the HMAC key, or a failed expectation. */
function softwareActivate(blob: Buffer, ek: KeyObject, srk: { pub: Buffer; priv: KeyObject }) {
  const c = new Cursor(blob);
  const [credentialBlob, secret, duplicate, outSymSeed, publicArea, encUri] = [0, 1, 2, 3, 4, 5].map(() => c.sized());
  expect(c.done).toBe(true);
  // ActivateCredential: the seed only the EK decrypts, bound to the SRK's Name.
  const srkName = readRsaStorageKey(srk.pub, 'SRK').name;
  const credential = new Cursor(unwrapOuter(oaepDecrypt(ek, 'IDENTITY', secret), srkName, credentialBlob));
  const innerKey = credential.sized();
  expect(credential.done).toBe(true);
  // Import: the outer wrapper under the SRK, then the inner one under the credential.
  const name = objectName(publicArea);
  const inner = cfbDecrypt(innerKey, unwrapOuter(oaepDecrypt(srk.priv, 'DUPLICATE', outSymSeed), name, duplicate));
  const i = new Cursor(inner);
  const innerIntegrity = i.sized();
  const sensitive = inner.subarray(i.at);
  expect(sha256(sensitive, name)).toEqual(innerIntegrity);
  const s = new Cursor(sensitive.subarray(2));
  expect(sensitive.readUInt16BE(2)).toBe(0x0008); // TPM_ALG_KEYEDHASH
  s.at = 2;
  expect(s.sized()).toHaveLength(0); // authValue: used with an empty password
  const seedValue = s.sized();
  const key = s.sized();
  // The public area's `unique` binds it to the sensitive part, as Load checks.
  expect(publicArea.subarray(publicArea.length - 32)).toEqual(sha256(seedValue, key));
  return { key, uri: cfbDecrypt(innerKey, encUri).toString() };
}

describe('the activation blob', () => {
  const ek = tpmKey();
  const srk = tpmKey();

  it('gives the HMAC key to the TPM holding the EK, through every integrity check', () => {
    const key = Buffer.alloc(32, 7);
    const recovered = softwareActivate(activationBlob(ek.pub, srk.pub, key, 'scope/registrations/x'), ek.priv, srk);
    expect(recovered).toEqual({ key, uri: 'scope/registrations/x' });
  });

  it('gives nothing to another EK or under another SRK', () => {
    const blob = activationBlob(ek.pub, srk.pub, Buffer.alloc(32, 7), 'u');
    expect(() => softwareActivate(blob, tpmKey().priv, srk)).toThrow(/rsa|oaep|decod/i);
    expect(() => softwareActivate(blob, ek.priv, tpmKey())).toThrow();
  });

  it('refuses keys DPS could not challenge, naming what is wrong', () => {
    const truncated = ek.pub.subarray(0, 100);
    expect(() => activationBlob(truncated, srk.pub, Buffer.alloc(32), 'u')).toThrow(/truncated/);
    const signing = Buffer.from(ek.pub);
    signing.writeUInt32BE(0x00040072, 6); // sign | userWithAuth | …: not a storage key
    expect(() => activationBlob(signing, srk.pub, Buffer.alloc(32), 'u')).toThrow(/not a restricted decryption key/);
  });
});

describe('the challenge and the SAS that answers it', () => {
  const ek = tpmKey();
  const srk = tpmKey();
  const state = emptyState(['hub-1.azure-devices.net']);
  const ctx = { state, idScope: '0ne00000001', certificates: new Map() };
  state.enrollments.set('dev-1', {
    registrationId: 'dev-1',
    attestation: { type: 'tpm', tpm: { endorsementKey: ek.pub.toString('base64') } },
  });
  const keys = { endorsementKey: ek.pub.toString('base64'), storageRootKey: srk.pub.toString('base64') };
  const sasFor = (key: Buffer, resource = '0ne00000001/registrations/dev-1') => {
    const se = Math.floor(Date.now() / 1000) + 3600;
    const sr = encodeURIComponent(resource);
    return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sign(sr, key.toString('base64'), se))}&se=${se}&skn=registration`;
  };

  it('answers an enrolled EK with a key only its TPM recovers, and knows the device by the SAS signed with it', () => {
    const answer = tpmChallenge(ctx, 'dev-1', keys) as { status: number; body: { authenticationKey: string } };
    expect(answer.status).toBe(401);
    const { key } = softwareActivate(Buffer.from(answer.body.authenticationKey, 'base64'), ek.priv, srk);
    const attested = attestTpm(ctx, sasFor(key), 'dev-1');
    expect(attested.source.individual?.registrationId).toBe('dev-1');
    expect(attested.runtime).toEqual({ tpm: keys });
    expect(() => attestTpm(ctx, sasFor(Buffer.alloc(32, 1)), 'dev-1')).toThrow(/signature is invalid/);
    expect(parseSas(sasFor(key)).skn).toBe('registration');
  });

  it('gives one answer for an unknown ID and for another EK, and a 400 for what is not a key', () => {
    const other = { ...keys, endorsementKey: tpmKey().pub.toString('base64') };
    expect(() => tpmChallenge(ctx, 'nobody', keys)).toThrow('The TPM matches no enrollment.');
    expect(() => tpmChallenge(ctx, 'dev-1', other)).toThrow('The TPM matches no enrollment.');
    expect(() => tpmChallenge(ctx, 'dev-1', { ...keys, storageRootKey: 'not base64!' })).toThrow(
      expect.objectContaining({ status: 400 }),
    );
    expect(() => attestTpm(ctx, sasFor(Buffer.alloc(32)), 'never-challenged')).toThrow(/register without a SAS first/);
  });
});
