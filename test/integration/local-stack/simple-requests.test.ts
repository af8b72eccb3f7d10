/**
 * Cross-site forgery at the edge: a state-changing request that any web page could send from another site without a
 * preflight (no Content-Type, text/plain, a form's types) is refused with a 415 that says why — even with a valid
 * key and an admin's identity, which in Azure a session cookie would supply — and changes nothing. JSON still works,
 * so do the CLI and a maker's file upload; DPS's webhook call is not a browser's and is not held to it.
 */
import { api, type ClientConfig } from '../../../cli/client';
import type { RunningHost } from '../../../dev/host/host';
import { FUNCTION_KEY, startFunctionApp } from '../../support/app-host';
import { startTestStack, type TestStack } from '../../support/stack';

const ADMIN = 'dev-admin-secret-not-a-secret';
const ACME = 'dev-acme-tpm-secret-not-a-secret';
let stack: TestStack;
let host: RunningHost;

beforeAll(async () => {
  stack = await startTestStack({ withStorage: true });
  // Incidents wait for an approval here, and no queue is driven: what the test sees is what the request did.
  Object.assign(process.env, stack.env, { INCIDENT_AUTO_APPROVE_MAX_DEVICES: '0' });
  host = await startFunctionApp({ driveQueues: false });
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

const send = (path: string, body: RequestInit['body'] | undefined, headers: Record<string, string>, bearer = ADMIN) =>
  fetch(`${host.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'x-functions-key': FUNCTION_KEY, authorization: `Bearer ${bearer}`, ...headers },
    body,
  });
const incident = (id: string) =>
  JSON.stringify({ id, reason: 'forged?', mode: 'quarantine', scope: { registrationIds: [`${id}-device`] } });
// Bytes with no type: fetch sends no Content-Type at all, as a page's fetch(…, { mode: 'no-cors' }) can.
const untyped = (text: string) => new TextEncoder().encode(text);
const SIMPLE: Array<[string, (text: string) => [RequestInit['body'], Record<string, string>]]> = [
  ['text/plain', (t) => [t, { 'content-type': 'text/plain;charset=UTF-8' }]],
  ['a urlencoded form', (t) => [t, { 'content-type': 'application/x-www-form-urlencoded' }]],
  ['a multipart form', (t) => [t, { 'content-type': 'multipart/form-data; boundary=x' }]],
  ['no Content-Type', (t) => [untyped(t), {}]],
];

const status = async (id: string) =>
  (
    await fetch(`${host.baseUrl}/api/incidents/${id}`, {
      headers: { 'x-functions-key': FUNCTION_KEY, authorization: `Bearer ${ADMIN}` },
    })
  ).status;

test.each(SIMPLE)('an incident submitted with %s is refused with a 415 and not recorded', async (_kind, as) => {
  const id = `simple-${_kind.replace(/\W+/g, '-')}`;
  const res = await send('/api/incidents', ...as(incident(id)));
  expect(res.status).toBe(415);
  expect(((await res.json()) as { reason: string }).reason).toMatch(/Content-Type: application\/json/);
  expect(await status(id)).toBe(404);
});

test('a decision sent as a simple request is refused and changes nothing; the same decision in JSON is taken', async () => {
  const submitted = await send('/api/incidents', incident('decide-1'), { 'content-type': 'application/json' });
  expect(submitted.status).toBe(202);
  for (const action of ['cancel', 'approve', 'release'])
    for (const [kind, as] of SIMPLE)
      expect([action, kind, (await send(`/api/incidents/decide-1/${action}`, ...as('{}'))).status]).toEqual([
        action,
        kind,
        415,
      ]);
  const view = async () =>
    (await (
      await fetch(`${host.baseUrl}/api/incidents/decide-1`, {
        headers: { 'x-functions-key': FUNCTION_KEY, authorization: `Bearer ${ADMIN}` },
      })
    ).json()) as { status: string };
  expect((await view()).status).not.toMatch(/^cancell/);
  const cancelled = await send('/api/incidents/decide-1/cancel', '{}', { 'content-type': 'application/json' });
  expect(cancelled.status).toBe(200);
  expect((await view()).status).toMatch(/^cancell/); // cancelling: the (undriven) queue would finish it
});

test('suppressing a finding and starting an import are refused as simple requests', async () => {
  const [body, headers] = SIMPLE[0][1]('{"reason":"forged suppression"}');
  expect((await send('/api/findings/expiry/some-finding/suppress', body, headers)).status).toBe(415);
  expect((await send('/api/manufacturers/acme-tpm/imports/some-job/start', ...SIMPLE[3][1](''), ACME)).status).toBe(
    415,
  );
  expect((await send('/api/manufacturers/acme-tpm/imports/uploads?format=csv', ...SIMPLE[3][1](''), ACME)).status).toBe(
    415,
  );
});

test("a maker's file upload works with its type, and ?format= does not let a simple request through", async () => {
  const csv = 'registrationId,endorsementKey\nsimple-1,AAAA\n';
  const forged = await send(
    '/api/manufacturers/acme-tpm/imports?format=csv',
    csv,
    { 'content-type': 'text/plain' },
    ACME,
  );
  expect(forged.status).toBe(415);
  const real = await send('/api/manufacturers/acme-tpm/imports', csv, { 'content-type': 'text/csv' }, ACME);
  expect(real.status).toBe(202);
});

test('the CLI still acts: a call without a body goes as JSON (an upload slot, then its start)', async () => {
  const config: ClientConfig = { baseUrl: host.baseUrl, functionKey: FUNCTION_KEY, token: ACME };
  const slot = await api<{ startUrl: string; uploadUrl?: string }>(
    config,
    '/api/manufacturers/acme-tpm/imports/uploads?format=csv&fileName=cli.csv',
    { method: 'POST' },
  );
  expect(slot.status).toBe(202);
  // Nothing was uploaded: the start is refused for that reason (400), not for its content type.
  await expect(api(config, slot.body.startUrl, { method: 'POST' })).rejects.toMatchObject({ status: 400 });
});

test("DPS's webhook call is not held to it: a text/plain AllocationRequest is decided", async () => {
  const request = {
    enrollmentGroup: { enrollmentGroupId: 'g', attestation: { type: 'symmetricKey' } },
    deviceRuntimeContext: { registrationId: 'plain-1', symmetricKey: {}, payload: { region: 'eu' } },
    linkedHubs: ['hub-eu-1.azure-devices.net'],
  };
  const res = await send('/api/allocate', JSON.stringify(request), { 'content-type': 'text/plain' });
  expect(res.status).not.toBe(415);
  expect(res.status).toBeLessThan(500);
});
