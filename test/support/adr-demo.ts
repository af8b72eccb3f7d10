/**
 * The local stack with the demo Azure Device Registry seeded (namespace, root, intermediate, policy) and a DPS group
 * that names its policy: what the certificate-issuance tests provision against.
 */
import { X509Certificate } from 'node:crypto';

import { adrPaths, DEMO_ADR, seedAdrDemo, seedCertificatesGroup } from '../../dev/seed-certificates';
import { startTestStack, type TestStack } from './stack';

export const paths = adrPaths();
export const days = DEMO_ADR.validityPeriodInDays;
export const names = {
  namespaceName: DEMO_ADR.namespace,
  certificateAuthorityName: DEMO_ADR.ica,
  certificatePolicyName: DEMO_ADR.policy,
};
export const chainOf = (b64: string[]) => b64.map((c) => Buffer.from(c, 'base64'));

export type AdrDemo = Awaited<ReturnType<typeof startAdrDemo>>;

export async function startAdrDemo() {
  const stack: TestStack = await startTestStack();
  await seedAdrDemo(stack.env);
  const groupKey = (await seedCertificatesGroup(stack.env)).primaryKey;
  return {
    stack,
    /** The group's key, from which each device's key is derived. */
    groupKey,
    /** The namespace's root, which devices are given out of band to check their chains against. */
    rootDer: () => {
      const root = stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.root);
      return Buffer.from(new X509Certificate(root.properties.certificatePem as string).raw);
    },
    close: () => stack.close(),
  };
}
