import { createHash, generateKeyPairSync } from 'node:crypto';

import fc from 'fast-check';

import { randomEk } from '../../../dev/ek-factory';
import { readEndorsementKey } from '../../../shared/imports/rules/endorsement-key';
import {
  endorsementKeyHash,
  registrationIdFromHash,
  registrationIdProblem,
} from '../../../shared/imports/rules/registration-id';
import { endorsementKeyFromRsa, L1_EK_LENGTH, parseEndorsementKey } from '../../../shared/imports/rules/tpm-public';

/** RFC 4648 base32, written out bit by bit, to check the library-based derivation against. */
function base32Reference(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

describe('TPM2B_PUBLIC endorsement keys', () => {
  it('builds the 316-byte template L-1 public area that starts as DPS shows EKs (AToAAQAL…)', () => {
    const ek = randomEk();
    expect(ek.length).toBe(L1_EK_LENGTH);
    expect(ek.toString('base64').startsWith('AToAAQAL')).toBe(true);
    const parsed = parseEndorsementKey(ek);
    expect(parsed.ok && parsed.key.exponent).toBe(65537);
  });

  it('round-trips any RSA-2048 modulus', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 256, maxLength: 256 }), (bytes) => {
        const modulus = Buffer.from(bytes);
        modulus[0] |= 0x80;
        const parsed = parseEndorsementKey(endorsementKeyFromRsa({ modulus, exponent: 65537 }));
        return parsed.ok && parsed.key.modulus.equals(modulus);
      }),
    );
  });

  it.each([
    ['truncated', (ek: Buffer) => ek.subarray(0, 200), /truncated/],
    ['trailing bytes', (ek: Buffer) => Buffer.concat([ek, Buffer.from([0])]), /trailing bytes/],
    [
      'ECC key type',
      (ek: Buffer) => {
        const b = Buffer.from(ek);
        b.writeUInt16BE(0x0023, 2);
        return b;
      },
      /not RSA/,
    ],
    [
      'SHA-1 name algorithm',
      (ek: Buffer) => {
        const b = Buffer.from(ek);
        b.writeUInt16BE(0x0004, 4);
        return b;
      },
      /not SHA-256/,
    ],
    [
      'a signing key',
      (ek: Buffer) => {
        const b = Buffer.from(ek);
        b.writeUInt32BE(0x000500b2, 6);
        return b;
      },
      /not those of an EK/,
    ],
    [
      'another auth policy',
      (ek: Buffer) => {
        const b = Buffer.from(ek);
        b[12] ^= 0xff;
        return b;
      },
      /not the TCG EK policy/,
    ],
    [
      'RSA-1024 key bits',
      (ek: Buffer) => {
        const b = Buffer.from(ek);
        b.writeUInt16BE(1024, 52);
        return b;
      },
      /RSA-1024/,
    ],
  ])('refuses %s with its reason', (_name, mutate, reason) => {
    const parsed = parseEndorsementKey(mutate(randomEk()));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });

  it('never throws on arbitrary bytes: every input is accepted or refused with a reason (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const parsed = parseEndorsementKey(Buffer.from(bytes));
        return parsed.ok || parsed.reason.length > 0;
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses any change to a fixed field of the template: size, type, name algorithm, policy, parameters (fuzz)', () => {
    const ek = randomEk();
    // Offsets of fields the EK profile fixes; the attributes (6–9) have optional bits, the exponent (54–57) may vary.
    const fixed = [0, 1, 2, 3, 4, 5, ...Array.from({ length: 44 }, (_, i) => 10 + i), 58, 59];
    fc.assert(
      fc.property(fc.constantFrom(...fixed), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const b = Buffer.from(ek);
        b[at] ^= flip;
        return !parseEndorsementKey(b).ok;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('reading the endorsementKey column', () => {
  it('takes base64 TPM2B_PUBLIC as is', () => {
    const ek = randomEk();
    const read = readEndorsementKey(ek.toString('base64'));
    expect(read.ok && read.ek.bytes.equals(ek) && read.ek.convertedFrom).toBe(undefined);
  });

  it('converts an RSA-2048 SubjectPublicKeyInfo (PEM or base64 DER) to the TPM2B_PUBLIC a TPM reports', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const der = publicKey.export({ format: 'der', type: 'spki' });
    const fromPem = readEndorsementKey(pem);
    const fromDer = readEndorsementKey(der.toString('base64'));
    expect(fromPem.ok && fromPem.ek.convertedFrom).toBe('spki');
    expect(fromPem.ok && fromDer.ok && fromPem.ek.bytes.equals(fromDer.ek.bytes)).toBe(true);
    const n = Buffer.from(publicKey.export({ format: 'jwk' }).n as string, 'base64url');
    expect(fromPem.ok && fromPem.ek.key.modulus.equals(n)).toBe(true);
  });

  it('refuses what DPS cannot use, with the reason', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ format: 'pem', type: 'spki' })
      .toString();
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .publicKey.export({ format: 'pem', type: 'spki' })
      .toString();
    expect(readEndorsementKey('not base64!')).toEqual({ ok: false, reason: 'endorsementKey is not base64' });
    expect(readEndorsementKey('')).toEqual({ ok: false, reason: 'endorsementKey is empty' });
    expect(readEndorsementKey(ec)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/EC key; DPS takes RSA-2048/),
    });
    expect(readEndorsementKey(rsa1024)).toMatchObject({ ok: false, reason: expect.stringMatching(/RSA-1024/) });
  });
});

describe('registration IDs', () => {
  it("derives the TPM SDKs' ID: lower-case unpadded RFC 4648 base32 of SHA-256 over the TPM2B_PUBLIC, 52 characters", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), (bytes) => {
        const hash = endorsementKeyHash(Buffer.from(bytes));
        expect(hash.equals(createHash('sha256').update(bytes).digest())).toBe(true);
        const id = registrationIdFromHash(hash);
        return (
          id.length === 52 && id === base32Reference(hash).toLowerCase() && registrationIdProblem(id) === undefined
        );
      }),
    );
  });

  it("applies DPS's rules to given IDs", () => {
    expect(registrationIdProblem('acme-0001')).toBeUndefined();
    expect(registrationIdProblem('a:b.c_d-e')).toBeUndefined();
    expect(registrationIdProblem('-acme')).toMatch(/not first or last/);
    expect(registrationIdProblem('acme/1')).toMatch(/only letters/);
    expect(registrationIdProblem('x'.repeat(129))).toMatch(/129 characters/);
    expect(registrationIdProblem('')).toMatch(/empty/);
  });
});
