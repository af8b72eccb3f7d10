import fc from 'fast-check';

import {
  findingCode,
  horizonToRaise,
  parseHorizons,
  reachedHorizon,
} from '../../../shared/certificates/rules/horizons';
import { mergeRecord, recordFromInfo } from '../../../shared/certificates/rules/record';
import { planRoll } from '../../../shared/certificates/rules/rolling';
import { rsa1024SelfSigned } from '../../support/test-certificates';

const DAY = 86_400_000;
const now = new Date('2026-11-25T12:00:00Z');
const at = (days: number) => new Date(now.getTime() + days * DAY).toISOString();
const info = (thumb: string, fromDays: number, toDays: number) => ({
  subjectName: 'CN=x',
  sha1Thumbprint: thumb,
  sha256Thumbprint: thumb,
  issuerName: 'CN=ca',
  notBeforeUtc: at(fromDays),
  notAfterUtc: at(toDays),
  serialNumber: '01',
  version: 3,
});

describe('expiry horizons', () => {
  const horizons = parseHorizons('7,90,30');

  it('reads the configured horizons loosest first, with a default', () => {
    expect(horizons).toEqual([90, 30, 7]);
    expect(parseHorizons(undefined)).toEqual([90, 30, 7]);
    expect(parseHorizons('x,-1')).toEqual([90, 30, 7]);
  });

  it('raises each horizon at most once, and never a looser one after a tighter, however the sweeps fall (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -10, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 48 }), { minLength: 1, maxLength: 60 }),
        (expiresInDays, steps) => {
          const notAfter = at(expiresInDays);
          const raised: number[] = [];
          let t = now.getTime();
          for (const hours of steps) {
            t += hours * 3_600_000;
            const h = horizonToRaise(notAfter, raised, new Date(t), horizons);
            if (h !== undefined) raised.push(h);
          }
          const distinct = new Set(raised).size === raised.length;
          const tightening = raised.every((h, i) => i === 0 || h < raised[i - 1]);
          const final = reachedHorizon(notAfter, new Date(t), horizons);
          return (
            distinct && tightening && (final === undefined ? raised.length === 0 : raised[raised.length - 1] === final)
          );
        },
      ),
    );
  });

  it('names findings by horizon', () => {
    expect(findingCode(0)).toBe('CERT_EXPIRED');
    expect(findingCode(30)).toBe('CERT_EXPIRES_WITHIN_30D');
    expect(reachedHorizon(at(5), now, horizons)).toBe(7);
    expect(reachedHorizon(at(60), now, horizons)).toBe(90);
    expect(reachedHorizon(at(400), now, horizons)).toBeUndefined();
    expect(reachedHorizon(at(-1), now, horizons)).toBe(0);
  });
});

describe('rolling the documented way', () => {
  it('promotes a valid staged secondary once the primary is inside the last horizon', () => {
    const slots = { primary: { info: info('AA', -300, 3) }, secondary: { info: info('BB', -1, 400) } };
    expect(planRoll(slots, now, 7)).toEqual({
      roll: true,
      slots: { primary: { info: slots.secondary.info } },
      reason: 'the primary expires within 7 days',
    });
    expect(planRoll(slots, now, 7, '-----BEGIN CERTIFICATE-----')).toMatchObject({
      roll: true,
      slots: { primary: { certificate: '-----BEGIN CERTIFICATE-----' } },
    });
    expect(planRoll({ ...slots, primary: { info: info('AA', -300, -1) } }, now, 7)).toMatchObject({
      roll: true,
      reason: 'the primary expired',
    });
  });

  it('never removes the only valid certificate', () => {
    expect(planRoll({ primary: { info: info('AA', -300, 3) } }, now, 7)).toMatchObject({ roll: false });
    expect(
      planRoll({ primary: { info: info('AA', -300, 3) }, secondary: { info: info('BB', 2, 400) } }, now, 7),
    ).toMatchObject({ roll: false }); // not valid yet
    expect(
      planRoll({ primary: { info: info('AA', -300, 3) }, secondary: { info: info('BB', -300, -2) } }, now, 7),
    ).toMatchObject({ roll: false }); // expired
    expect(
      planRoll({ primary: { info: info('AA', -300, 60) }, secondary: { info: info('BB', -1, 400) } }, now, 7),
    ).toMatchObject({ roll: false, reason: expect.stringContaining('not inside') });
  });
});

describe('inventory records', () => {
  it('merge usages by enrollment and keep what was learnt and raised', () => {
    const a = recordFromInfo(info('AA', -10, 50), { kind: 'enrollment', id: 'dev-1', slot: 'secondary' });
    const stored = { ...a, raised: [90], keyType: 'RSA', keySize: 2048 };
    const merged = mergeRecord(
      stored,
      recordFromInfo(info('AA', -10, 50), { kind: 'enrollment', id: 'DEV-1', slot: 'primary' }),
    );
    expect(merged).toMatchObject({
      raised: [90],
      keyType: 'RSA',
      keySize: 2048,
      usages: [{ kind: 'enrollment', id: 'DEV-1', slot: 'primary' }],
      expiryMonth: at(50).slice(0, 7),
    });
  });
});

describe('audits of one record', () => {
  it('flags a weak key seen in a whole certificate, and a certificate shared by enrollments or devices', async () => {
    const { recordFromPem } = await import('../../../shared/certificates/rules/record');
    const { auditRecord } = await import('../../../shared/certificates/rules/audits');
    const cert = await rsa1024SelfSigned({
      subject: 'CN=old-device',
      serial: '01',
      notAfter: new Date(Date.now() + 86_400_000),
    });
    const record = await recordFromPem(cert.toString('pem'), { kind: 'enrollment', id: 'old-device', slot: 'primary' });
    expect(record).toMatchObject({
      keyType: 'RSA',
      keySize: 1024,
      signatureAlgorithm: 'RSASSA-PKCS1-v1_5 SHA-256',
      weaknesses: ['RSA-1024 key (below 2048 bits)'],
    });
    expect(auditRecord(record).map((f) => f.code)).toEqual(['CERT_WEAK_KEY']);
    const shared = {
      ...recordFromInfo(info('AA', -1, 100), { kind: 'device', id: 'a', hub: 'h1' }),
      usages: [
        { kind: 'device' as const, id: 'a', hub: 'h1' },
        { kind: 'device' as const, id: 'b', hub: 'h1' },
      ],
    };
    expect(auditRecord(shared)).toEqual([
      { code: 'CERT_SHARED', reason: 'one device certificate was presented by 2 registrations: a, b' },
    ]);
    expect(auditRecord(recordFromInfo(info('AA', -1, 100), { kind: 'device', id: 'a', hub: 'h1' }))).toEqual([]);
  });
});
