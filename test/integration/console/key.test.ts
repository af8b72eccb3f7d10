/**
 * The console's key, as `npm start` gives it and the README's link carries it: it opens the console and its views, and
 * neither the allocation webhook (which trusts the key alone and writes the certificate inventory) nor a route that
 * changes state outside the console. Every function it opens besides the page wants an identity on top.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { RunningHost } from '../../../dev/host/host';
import { localHostKeys } from '../../../dev/local-settings';
import { CONSOLE_FUNCTIONS } from '../../../functions/edge/console-key';
import { registeredFunctions } from '../../../functions/edge/registry';
import { startFunctionApp } from '../../support/app-host';
import { EXAMPLE_SETTINGS, startTestStack, type TestStack } from '../../support/stack';

const values = EXAMPLE_SETTINGS.Values;
const ADMIN = { authorization: 'Bearer dev-admin-secret-not-a-secret' };
const README = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
// The link the README's first lines show, as `npm start` prints it.
const link = new URL(/`(http:\/\/127\.0\.0\.1:7071\/api\/console\?[^`]+)`/.exec(README)?.[1] ?? 'http://none');
const consoleKey = link.searchParams.get('code') ?? '';

let stack: TestStack;
let host: RunningHost;

beforeAll(async () => {
  stack = await startTestStack();
  Object.assign(process.env, stack.env);
  host = await startFunctionApp({ ...localHostKeys(stack.env), driveQueues: false });
});
afterAll(async () => {
  await (await import('../../../functions/edge/allocation-runtime')).allocationRuntime().stop();
  await host?.close();
  await stack?.close();
});

const call = (path: string, init: RequestInit = {}, key = consoleKey) =>
  fetch(`${host.baseUrl}${path}${path.includes('?') ? '&' : '?'}code=${encodeURIComponent(key)}`, init);
const post = (path: string, body: unknown, headers: Record<string, string> = {}, key = consoleKey) =>
  call(
    path,
    { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) },
    key,
  );

const ALLOCATION_REQUEST = {
  enrollmentGroup: { enrollmentGroupId: 'g', attestation: { type: 'symmetricKey' } },
  deviceRuntimeContext: { registrationId: 'forged-1', symmetricKey: {}, payload: { region: 'eu' } },
  linkedHubs: ['hub-eu-1.azure-devices.net'],
};

test("the README's console link carries the console's own key, not the host's function key", () => {
  expect(consoleKey).toBe(values.DEV_CONSOLE_KEY);
  expect(consoleKey).not.toBe(values.DEV_FUNCTION_KEY);
  expect(link.hash).toBe('#token=dev-admin-secret-not-a-secret');
});

test('the console key opens the console and every view', async () => {
  const page = await call('/api/console');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/text\/html/);
  for (const view of ['allocation', 'imports', 'imports/no-such-job/rows', 'incidents', 'certificates'])
    expect([view, (await call(`/api/views/${view}`, { headers: ADMIN })).status]).toEqual([view, 200]);
});

test('the console key gets 401 on the allocation webhook and on state-changing routes the console does not use', async () => {
  expect((await post('/api/allocate', ALLOCATION_REQUEST)).status).toBe(401);
  // The host's function key still opens the webhook: the 401 above is the key's scope, not a broken route.
  expect((await post('/api/allocate', ALLOCATION_REQUEST, {}, values.DEV_FUNCTION_KEY)).status).not.toBe(401);
  const incident = { id: 'by-console-key', reason: 'r', mode: 'quarantine', scope: { registrationIds: ['x'] } };
  expect((await post('/api/incidents', incident, ADMIN)).status).toBe(401);
  expect((await post('/api/manufacturers/acme-tpm/imports/uploads?format=csv', {}, ADMIN)).status).toBe(401);
  expect((await post('/api/manufacturers/acme-tpm/imports/some-job/start', {}, ADMIN)).status).toBe(401);
  expect((await call('/api/manufacturers/acme-tpm/imports/some-job', { headers: ADMIN })).status).toBe(401);
});

test('the key alone opens nothing: every function it reaches but the page wants an identity on top', async () => {
  const http = registeredFunctions().flatMap((r) => (r.trigger === 'http' ? [r] : []));
  expect(CONSOLE_FUNCTIONS.filter((name) => !http.some((r) => r.name === name))).toEqual([]); // no stale name
  for (const r of http.filter(
    (f) => (CONSOLE_FUNCTIONS as readonly string[]).includes(f.name) && f.name !== 'console',
  )) {
    const path = `/api/${(r.options.route ?? r.name).replace(/\{[^}]+\}/g, 'x')}`;
    const method = (r.options.methods ?? ['GET'])[0];
    const res = await call(
      path,
      method === 'GET' ? {} : { method, headers: { 'content-type': 'application/json' }, body: '{}' },
    );
    // The handler's refusal (it names the scheme), not the host's key check: the key was accepted, the identity missing.
    expect([r.name, res.status, res.headers.get('www-authenticate')]).toEqual([r.name, 401, 'Bearer']);
  }
});
