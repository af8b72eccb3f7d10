import { X509Certificate } from 'node:crypto';
import { webcrypto } from 'node:crypto';

import * as x509 from '@peculiar/x509';
import fc from 'fast-check';

import { randomEk } from '../../../dev/ek-factory';
import { FileDuplicates } from '../../../shared/imports/rules/duplicates';
import { ekCertificateProblem } from '../../../shared/imports/rules/ek-certificate';
import { enrollmentOf } from '../../../shared/imports/rules/enrollment';
import { FingerprintSet } from '../../../shared/imports/rules/fingerprint-set';
import { validateRow, type ValidRow } from '../../../shared/imports/rules/row';
import { type ImportFormat, isBroken, rowsOf, type SourceRow } from '../../../shared/imports/rules/row-sources';
import { parseEndorsementKey } from '../../../shared/imports/rules/tpm-public';

x509.cryptoProvider.set(webcrypto as never);
const rules = { manufacturerId: 'acme-tpm', registrationIdPrefix: 'acme-' };

async function collect(format: ImportFormat, text: string, chunkSize = 7): Promise<SourceRow[]> {
  const bytes = Buffer.from(text);
  const rows: SourceRow[] = [];
  // Chunks cut anywhere, as a network stream cuts them.
  for await (const row of rowsOf(
    format,
    (async function* () {
      for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
    })(),
  ))
    rows.push(row);
  return rows;
}

describe('rows out of a stream', () => {
  it('reads CSV, NDJSON and JSON arrays alike, with the line of every row, however the stream is cut', async () => {
    const ek = randomEk().toString('base64');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 600 }), async (chunkSize) => {
        const csv = await collect('csv', `endorsementKey,lot\n${ek},a\n\n${ek},"b\nc"\n${ek},d\n`, chunkSize);
        const ndjson = await collect(
          'ndjson',
          `{"endorsementKey":"${ek}","lot":"a"}\n\n{"endorsementKey":"${ek}","lot":7}\n`,
          chunkSize,
        );
        const json = await collect(
          'json',
          `[{"endorsementKey":"${ek}","lot":"a"},{"endorsementKey":"${ek}","lot":true}]`,
          chunkSize,
        );
        return (
          JSON.stringify(csv.map((r) => [r.line, !isBroken(r) && r.fields.lot])) ===
            JSON.stringify([
              [2, 'a'],
              [4, 'b\nc'],
              [6, 'd'],
            ]) &&
          JSON.stringify(ndjson.map((r) => [r.line, !isBroken(r) && r.fields.lot])) ===
            JSON.stringify([
              [1, 'a'],
              [3, '7'],
            ]) &&
          JSON.stringify(json.map((r) => [r.line, !isBroken(r) && r.fields.lot])) ===
            JSON.stringify([
              [1, 'a'],
              [2, 'true'],
            ])
        );
      }),
      { numRuns: 40 },
    );
  });

  it('reports an unreadable record with its line, in file order, and goes on', async () => {
    const rows = await collect('csv', 'endorsementKey,lot\nA,1\nB,2,3\nC,"x\n', 1000);
    expect(rows.map((r) => [r.line, isBroken(r) ? r.error.slice(0, 21) : r.fields.endorsementKey])).toEqual([
      [2, 'A'],
      [3, 'unreadable CSV record'],
      [4, 'unreadable CSV record'],
    ]);
    expect(
      (await collect('ndjson', '{"a":1}\nnope\n[1]\n{"b":{"c":1}}\n')).map((r) => [
        r.line,
        isBroken(r) && r.error.split(':')[0],
      ]),
    ).toEqual([
      [1, false],
      [2, 'not JSON'],
      [3, 'a row must be a JSON object'],
      [4, 'field "b" must be a string, number or boolean'],
    ]);
    const broken = await collect('json', '[{"a":"1"},{"a":');
    expect(broken.map((r) => r.line)).toEqual([1, 2]);
    expect(isBroken(broken[1]) && broken[1].error).toMatch(/not closed|unreadable JSON/);
  });

  it('survives any bytes: every input gives rows or broken rows, never an exception (fuzz)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<ImportFormat>('csv', 'ndjson', 'json'),
        fc.string({ maxLength: 300 }),
        async (format, text) => {
          const rows = await collect(format, text, 13);
          return rows.every((r) => Number.isInteger(r.line) && r.line >= 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('a row on its own', () => {
  it('accepts any valid EK with a derived or namespaced ID, and refuses IDs outside the namespace', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]{1,20}$/), (suffix) => {
        const ek = randomEk().toString('base64');
        const derived = validateRow({ line: 2, fields: { endorsementKey: ek } }, rules);
        const given = validateRow({ line: 3, fields: { endorsementKey: ek, registrationId: `acme-${suffix}` } }, rules);
        const outside = validateRow(
          { line: 4, fields: { endorsementKey: ek, registrationId: `other-${suffix}` } },
          rules,
        );
        return (
          derived.status === 'valid' &&
          derived.derivedId &&
          given.status === 'valid' &&
          given.registrationId === `acme-${suffix}` &&
          outside.status === 'invalid'
        );
      }),
      { numRuns: 50 },
    );
  });

  it("takes a given ID that is the EK's own (a harvest file's) without the namespace, and no other key's", () => {
    const ek = randomEk().toString('base64');
    const derived = validateRow({ line: 2, fields: { endorsementKey: ek } }, rules) as ValidRow;
    const harvested = validateRow(
      { line: 3, fields: { endorsementKey: ek, registrationId: derived.registrationId.toUpperCase() } },
      rules,
    );
    expect(harvested).toMatchObject({ status: 'valid', registrationId: derived.registrationId, derivedId: true });
    const otherKey = validateRow(
      { line: 4, fields: { endorsementKey: randomEk().toString('base64'), registrationId: derived.registrationId } },
      rules,
    );
    expect(otherKey).toMatchObject({ status: 'invalid', reason: expect.stringContaining('must start with acme-') });
  });

  it('keeps extra columns apart from the tags that say who made the device and which import enrolled it', () => {
    const row = validateRow(
      {
        line: 3,
        fields: {
          endorsementKey: randomEk().toString('base64'),
          manufacturer: 'globex',
          importJob: 'forged',
          lot: 'L',
        },
      },
      rules,
    ) as ValidRow;
    const tags = enrollmentOf(row, 'acme-tpm', 'acme-tpm-job-1').initialTwin?.tags;
    expect(tags).toMatchObject({
      manufacturer: 'acme-tpm',
      importJob: 'acme-tpm-job-1',
      lot: 'L',
      maker: { manufacturer: 'globex', importJob: 'forged' },
    });
  });

  it('puts extra columns in tags and refuses ones a twin cannot hold', () => {
    const ek = randomEk().toString('base64');
    expect(validateRow({ line: 2, fields: { endorsementKey: ek, color: 'red', lot: 'L1' } }, rules)).toMatchObject({
      status: 'valid',
      lot: 'L1',
      tags: { color: 'red' },
    });
    expect(validateRow({ line: 2, fields: { endorsementKey: ek, 'a.b': 'x' } }, rules)).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('cannot be a twin tag'),
    });
    expect(validateRow({ line: 2, fields: { endorsementKey: ek, model: 'x'.repeat(200) } }, rules)).toMatchObject({
      status: 'invalid',
      reason: expect.stringContaining('model'),
    });
  });
});

describe('duplicates within a file', () => {
  it('finds every repeat of an EK or an ID, and only those, naming the first line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 })), { maxLength: 120 }),
        (pairs) => {
          const eks = Array.from({ length: 31 }, (_, i) => Buffer.alloc(32, i).toString('hex'));
          const dup = new FileDuplicates();
          const firstEk = new Map<number, number>();
          const firstId = new Map<number, number>();
          return pairs.every(([e, id], i) => {
            const line = i + 2;
            const row = { status: 'valid', line, registrationId: `acme-${id}`, ekHash: eks[e] } as ValidRow;
            const verdict = dup.check(row);
            const expectDuplicate = firstEk.has(e) || firstId.has(id);
            if (!firstEk.has(e)) firstEk.set(e, line);
            if (!firstId.has(id)) firstId.set(id, line);
            return expectDuplicate
              ? verdict.status === 'duplicate' &&
                  new RegExp(`line (${firstEk.get(e)}|${firstId.get(id)})`).test((verdict as { reason: string }).reason)
              : verdict === row;
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps a fingerprint set exact through growth', () => {
    const set = new FingerprintSet(16);
    const digest = (i: number) => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE((i * 2654435761) >>> 0, 0);
      b.writeUInt32BE(i, 4);
      return b;
    };
    for (let i = 1; i <= 50_000; i++) expect(set.addOrGet(digest(i), i)).toBe(0);
    for (let i = 1; i <= 50_000; i += 997) expect(set.addOrGet(digest(i), 999_999)).toBe(i);
    expect(set.size).toBe(50_000);
  });
});

describe('EK certificates', () => {
  async function rsaCert(
    subject: string,
    publicKey: webcrypto.CryptoKey,
    signer: { key: webcrypto.CryptoKey; name: string },
    ca = false,
  ) {
    return x509.X509CertificateGenerator.create({
      serialNumber: '01',
      subject,
      issuer: signer.name,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey,
      signingKey: signer.key,
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      extensions: ca ? [new x509.BasicConstraintsExtension(true, 1, true)] : [],
    });
  }
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };

  it("must carry the row's key and chain to a configured TPM vendor root", async () => {
    const root = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const device = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const rootCert = await rsaCert(
      'CN=TPM Vendor Root',
      root.publicKey,
      { key: root.privateKey, name: 'CN=TPM Vendor Root' },
      true,
    );
    const ekCert = await rsaCert('CN=EK', device.publicKey, { key: root.privateKey, name: 'CN=TPM Vendor Root' });
    const otherRoot = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    const otherCert = await rsaCert(
      'CN=Other Root',
      otherRoot.publicKey,
      { key: otherRoot.privateKey, name: 'CN=Other Root' },
      true,
    );

    const jwk = await webcrypto.subtle.exportKey('jwk', device.publicKey);
    const key = { modulus: Buffer.from(jwk.n as string, 'base64url'), exponent: 65537 };
    const pem = ekCert.toString('pem');
    expect(ekCertificateProblem(pem, key)).toBeUndefined();
    expect(ekCertificateProblem(pem, key, [new X509Certificate(rootCert.toString('pem'))])).toBeUndefined();
    expect(ekCertificateProblem(pem, key, [new X509Certificate(otherCert.toString('pem'))])).toMatch(/does not chain/);
    const someoneElse = parseEndorsementKey(randomEk());
    expect(someoneElse.ok && ekCertificateProblem(pem, someoneElse.key)).toMatch(/another public key/);
    expect(ekCertificateProblem('garbage', key)).toMatch(/not an X.509 certificate/);

    // With vendor CAs configured, a row without an EK certificate is refused: anyone can copy a public EK.
    const trusted = { ...rules, ekTrust: [new X509Certificate(rootCert.toString('pem'))] };
    const ek = randomEk().toString('base64');
    expect(validateRow({ line: 4, fields: { endorsementKey: ek } }, trusted)).toMatchObject({
      status: 'invalid',
      line: 4,
      reason: expect.stringContaining('ekCertificate is required'),
    });
    expect(validateRow({ line: 4, fields: { endorsementKey: ek } }, rules)).toMatchObject({ status: 'valid' });
  });
});
