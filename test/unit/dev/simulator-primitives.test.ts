/** The simulator's own rules, unit by unit: SAS signatures, the quota bucket, Functions route templates. */
import { SharedAccessSignature } from 'azure-iot-common';

import { compileRoute } from '../../../dev/host/routes';
import { parseSas, verifySas } from '../../../dev/sim/sas';
import { TokenBucket } from '../../../dev/sim/throttle';

const key = Buffer.from('a key of thirty-two bytes.......').toString('base64');

test('a token made by the Azure IoT SDK verifies; another key, resource or an expired one does not', () => {
  const now = Math.floor(Date.now() / 1000);
  const token = parseSas(
    SharedAccessSignature.create('scope/registrations/dev-1', 'registration', key, now + 60).toString(),
  );
  expect(() => verifySas(token, 'scope/registrations/dev-1', [key])).not.toThrow();
  expect(() => verifySas(token, 'SCOPE/registrations/DEV-1', [key])).not.toThrow();
  expect(() => verifySas(token, 'scope/registrations/dev-2', [key])).toThrow(/not scope\/registrations\/dev-2/);
  expect(() => verifySas(token, 'scope/registrations/dev-1', [Buffer.from('other').toString('base64')])).toThrow(
    /signature is invalid/,
  );
  expect(() => verifySas(token, 'scope/registrations/dev-1', [key], now + 120)).toThrow(/expired/);
  expect(() => parseSas('Bearer abc')).toThrow(/SharedAccessSignature/);
});

test('the bucket allows a burst, then answers Retry-After; large requests leave it in debt so the rate holds', () => {
  let t = 0;
  const bucket = new TokenBucket(60, 5, () => t); // 1 a second, bursts of 5
  for (let i = 0; i < 5; i++) expect(bucket.take().ok).toBe(true);
  expect(bucket.take()).toEqual({ ok: false, retryAfterSeconds: 1 });
  t += 5000;
  expect(bucket.take(100).ok).toBe(true); // bigger than the burst: let through once full…
  expect(bucket.take()).toEqual({ ok: false, retryAfterSeconds: 96 }); // …and paid back before the next
});

test('route templates match like the Functions host', () => {
  const match = compileRoute('manufacturers/{manufacturerId}/imports/{jobId?}');
  expect(match('/manufacturers/acme-tpm/imports')).toEqual({ params: { manufacturerId: 'acme-tpm' } });
  expect(match('/manufacturers/acme-tpm/imports/j%201')).toEqual({
    params: { manufacturerId: 'acme-tpm', jobId: 'j 1' },
  });
  expect(match('/manufacturers/acme-tpm/other')).toBeUndefined();
  expect(compileRoute('incidents/{id:guid}/release')('/incidents/abc/release')).toEqual({ params: { id: 'abc' } });
});
