/**
 * An import whose rows name an ADR certificate policy: the names reach the DPS enrollments (written under api-version
 * 2026-11-01 by the DPS adapter, read back under 2026-11-01), a row naming none or a bad one is reported as such, and a
 * TPM device (swtpm) of the import registering with a CSR gets its chain from that policy.
 */
import 'reflect-metadata';

import { X509Certificate } from 'node:crypto';

import { checkIssuedChain, registerTpmDeviceWithCsr } from '../../../dev/device-csr';
import { randomEk } from '../../../dev/ek-factory';
import type { RunningHost } from '../../../dev/host/host';
import { DEMO_ADR, dpsServiceCall, seedAdrDemo } from '../../../dev/seed-certificates';
import { findSwtpm, type RunningTpm, startSwtpm, SWTPM_INSTALL } from '../../../dev/swtpm';
import { endorsementKeyHash, registrationIdFromHash } from '../../../shared/imports/rules/registration-id';
import { startFunctionApp } from '../../support/app-host';
import { importSettled } from '../../support/eventually';
import { startTestStack, type TestStack } from '../../support/stack';
import { tpmClient } from '../../support/tpm';

const swtpm = findSwtpm();
if (!swtpm && process.env.CI === 'true') throw new Error(`CI needs swtpm for the TPM tests: ${SWTPM_INSTALL}`);

const ACME = 'Bearer dev-acme-tpm-secret-not-a-secret';
const POLICY = `${DEMO_ADR.namespace}/${DEMO_ADR.ica}/${DEMO_ADR.policy}`;
const NAMES = {
  namespaceName: DEMO_ADR.namespace,
  certificateAuthorityName: DEMO_ADR.ica,
  certificatePolicyName: DEMO_ADR.policy,
};

let stack: TestStack;
let host: RunningHost;
let tpm: RunningTpm | undefined;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const post = (query: string, csv: string) =>
  fetch(`${host.baseUrl}/api/manufacturers/acme-tpm/imports${query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', 'x-functions-key': 'fk', authorization: ACME },
    body: csv,
  });

const waitDone = (location: string): Promise<Json> =>
  importSettled(
    async () =>
      (await (
        await fetch(`${host.baseUrl}${location}`, { headers: { 'x-functions-key': 'fk', authorization: ACME } })
      ).json()) as Json,
    location,
  );

const idOf = (ek: Buffer) => registrationIdFromHash(endorsementKeyHash(ek));
const enrollment = async (id: string, apiVersion?: string): Promise<Json> =>
  (await dpsServiceCall(stack.env, 'GET', `/enrollments/${id}`, undefined, apiVersion)).body;

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  await seedAdrDemo(stack.env);
  host = await startFunctionApp();
  if (swtpm) tpm = await startSwtpm();
});
afterAll(async () => {
  await tpm?.stop();
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

test('a job’s policy and a row’s column reach the enrollments as the three names; bad names are refused per row', async () => {
  const [tpmEk, tpmId] = await (async () => {
    if (!tpm) return [randomEk(), undefined];
    const client = await tpmClient(tpm.address);
    try {
      return [await client.endorsementKey(), await client.registrationId()];
    } finally {
      client.close();
    }
  })();
  const [plain, named] = [randomEk(), randomEk()];
  const csv = [
    'endorsementKey,certificatePolicy', // 1
    `${tpmEk.toString('base64')},`, // 2: the job's policy
    `${plain.toString('base64')},none`, // 3: none, whatever the job says
    `${named.toString('base64')},${POLICY}`, // 4: the row's own
    `${randomEk().toString('base64')},${DEMO_ADR.namespace}/${DEMO_ADR.ica}`, // 5: two names of three
    `${randomEk().toString('base64')},Demo/${DEMO_ADR.ica}/${DEMO_ADR.policy}`, // 6: not the namespace pattern
  ].join('\n');

  const refused = await post(`?certificatePolicy=${encodeURIComponent('demo/ica')}`, csv);
  expect(refused.status).toBe(400);
  expect(((await refused.json()) as Json).reason).toMatch(/namespace\/certificateAuthority\/policy/);

  const res = await post(`?certificatePolicy=${encodeURIComponent(POLICY)}`, csv);
  expect(res.status).toBe(202);
  const job = await waitDone(res.headers.get('location') as string);
  expect(job.counts).toMatchObject({ rows: 5, invalid: 2, enrolled: 3 });
  const invalid = (
    (await (
      await fetch(`${host.baseUrl}${res.headers.get('location')}/rows?status=invalid`, {
        headers: { 'x-functions-key': 'fk', authorization: ACME },
      })
    ).json()) as Json
  ).rows;
  expect(invalid.map((r: Json) => [r.line, r.reason])).toEqual([
    [5, expect.stringMatching(/certificatePolicy .* must be namespace\/certificateAuthority\/policy/)],
    [6, expect.stringMatching(/namespaceName "Demo"/)],
  ]);

  // Read back under 2026-11-01: the names are there (and 2021-10-01, what the service SDK speaks, hides them).
  expect(await enrollment(tpmId ?? idOf(tpmEk))).toMatchObject(NAMES);
  expect(await enrollment(idOf(named))).toMatchObject(NAMES);
  expect(await enrollment(idOf(plain))).not.toHaveProperty('namespaceName');
  expect(await enrollment(idOf(named), '2021-10-01')).not.toHaveProperty('namespaceName');
  // The webhook is asked under the version that shows it the names.
  expect((await enrollment(idOf(named))).customAllocationDefinition.apiVersion).toBe('2026-11-01');
  expect((await enrollment(idOf(plain))).customAllocationDefinition.apiVersion).toBe('2021-10-01');
});

(swtpm ? test : test.skip)(
  'the imported TPM device registers with a CSR and gets its chain from the policy',
  async () => {
    const issued = await registerTpmDeviceWithCsr(stack.env, (tpm as RunningTpm).address);
    const root = stack.simulator.adr.ca(DEMO_ADR.namespace, DEMO_ADR.root);
    const [leaf] = checkIssuedChain(issued, {
      rootDer: Buffer.from(new X509Certificate(root.properties.certificatePem as string).raw),
      validityDays: DEMO_ADR.validityPeriodInDays,
    });
    expect(leaf.subject).toBe(`CN=${issued.registrationId}`);
  },
);
