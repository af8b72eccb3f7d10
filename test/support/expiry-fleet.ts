/**
 * The fleet the certificate sweep and audit tests read, on the local stack with the function app (queues not driven):
 * X.509 enrollments in the local DPS with certificates expiring in 5, 60 and 400 days, one whose primary expires in 3
 * with a secondary staged, and the audits' cases — one TPM endorsement key behind two enrollments, two enrollments
 * provisioning one device ID, one certificate behind two enrollments. Every leaf was issued 30 days ago.
 */
import { X509Certificate } from 'node:crypto';

import type { RunningHost } from '../../dev/host/host';
import { issue, type Issued } from '../../dev/pki';
import { CosmosCertificateRepository } from '../../shared/certificates/store/cosmos-certificates';
import { repositories } from '../../shared/composition/services';
import { startAppHost } from './app-host';
import { startTestStack, type TestStack } from './stack';
import { x509Enrollment } from './test-certificates';

export const DAY = 86_400_000;
export const thumb = (c: Issued) => new X509Certificate(c.certPem).fingerprint256.replace(/:/g, '');

export type ExpiryFleet = Awaited<ReturnType<typeof startExpiryFleet>>;

export async function startExpiryFleet() {
  const now = new Date();
  const certs: Record<string, Issued> = {};
  const stack: TestStack = await startTestStack({ withStorage: true }); // audit records also go to the blob trail
  Object.assign(process.env, stack.env);
  const functions = await import('../../functions/index');
  const host: RunningHost = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    driveQueues: false,
  });
  const root = await issue({
    subject: 'CN=Expiry Test Root',
    isCa: true,
    notAfter: new Date(now.getTime() + 3650 * DAY),
  });
  const leaf = (name: string, days: number) =>
    issue({
      subject: `CN=${name}`,
      issuer: root,
      notBefore: new Date(now.getTime() - 30 * DAY),
      notAfter: new Date(now.getTime() + days * DAY),
    });
  Object.assign(certs, {
    d5: await leaf('dev-5', 5),
    d60: await leaf('dev-60', 60),
    d400: await leaf('dev-400', 400),
    old: await leaf('dev-roll', 3),
    staged: await leaf('dev-roll', 400),
    cloned: await leaf('cloned', 500),
  });
  const enroll = (id: string, primary: Issued, secondary?: Issued) =>
    stack.services.enrollments.putEnrollment(x509Enrollment(id, primary, secondary));
  await enroll('dev-5', certs.d5);
  await enroll('dev-60', certs.d60);
  await enroll('dev-400', certs.d400);
  await enroll('dev-roll', certs.old, certs.staged);
  await stack.services.enrollments.putEnrollment({
    registrationId: 'tpm-device',
    attestation: { type: 'symmetricKey' },
  });
  // One TPM endorsement key behind two enrollments (an audit finding).
  const ek = (await import('../../dev/ek-factory')).randomEk().toString('base64');
  for (const id of ['tpm-a', 'tpm-b'])
    await stack.services.enrollments.putEnrollment({
      registrationId: id,
      attestation: { type: 'tpm', tpm: { endorsementKey: ek } },
    });
  // Two enrollments that provision one device ID (an audit finding).
  await stack.services.enrollments.putEnrollment({
    registrationId: 'meter-17-new',
    deviceId: 'meter-17',
    attestation: { type: 'symmetricKey' },
  });
  await stack.services.enrollments.putEnrollment({ registrationId: 'meter-17', attestation: { type: 'symmetricKey' } });
  // One certificate behind two enrollments: an identity cloned (an audit finding).
  await enroll('clone-a', certs.cloned);
  await enroll('clone-b', certs.cloned);

  return {
    stack,
    host,
    now,
    certs,
    /** What the inventory's reconciliation and the sweeps use, on the stack's Cosmos and DPS. */
    inventoryDeps: () => ({
      ...repositories({ store: async () => stack.services.store }),
      store: async () => stack.services.store,
      certificates: async () => new CosmosCertificateRepository(stack.services.store),
      enrollments: async () => stack.services.enrollments,
      events: async () => stack.services.events,
    }),
    close: async () => {
      await (await import('../../functions/edge/allocation-runtime')).allocationRuntime().stop();
      await host.close();
      await stack.close();
    },
  };
}
