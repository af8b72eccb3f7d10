/**
 * The local host's key check from an attacker's side: a key of the right length in characters but not in bytes (é is
 * two bytes in UTF-8) must be a plain 401 like any wrong key. It was a 500 (timingSafeEqual throws on unequal byte
 * lengths), which told the attacker the key's length.
 */
import type { RunningHost } from '../../../dev/host/host';
import type { FunctionRegistration } from '../../../functions/edge/registry';
import { FUNCTION_KEY, MASTER_KEY, startAppHost } from '../../support/app-host';

const ping: FunctionRegistration = {
  name: 'ping',
  trigger: 'http',
  options: { route: 'ping', methods: ['GET'], authLevel: 'function', handler: async () => ({ status: 200 }) },
};
let host: RunningHost;

beforeAll(async () => {
  host = await startAppHost({ registrations: [ping], env: {}, functionKeys: { ping: { own: 'own-key' } } });
});
afterAll(() => host?.close());

const sameLengthNonAscii = (key: string) => 'é'.repeat(key.length);
const get = (path: string, headers: Record<string, string> = {}) => fetch(`${host.baseUrl}${path}`, { headers });

test('a function key of the right length in non-ASCII characters is a 401, in the query or the header', async () => {
  expect(FUNCTION_KEY.length).toBe(sameLengthNonAscii(FUNCTION_KEY).length); // the premise: same length, other bytes
  expect((await get(`/api/ping?code=${encodeURIComponent(sameLengthNonAscii(FUNCTION_KEY))}`)).status).toBe(401);
  expect((await get(`/api/ping?code=${encodeURIComponent(sameLengthNonAscii('own-key'))}`)).status).toBe(401);
  // Header values travel as Latin-1: é is one character here and two bytes once the host reads it as UTF-8.
  expect((await get('/api/ping', { 'x-functions-key': sameLengthNonAscii(FUNCTION_KEY) })).status).toBe(401);
});

test('the master key too: the key API answers 401, not 500', async () => {
  const res = await get(`/admin/functions/ping/keys?code=${encodeURIComponent(sameLengthNonAscii(MASTER_KEY))}`);
  expect(res.status).toBe(401);
});

test('the right keys still open, and a wrong ASCII key of the right length does not', async () => {
  expect((await get(`/api/ping?code=${FUNCTION_KEY}`)).status).toBe(200);
  expect((await get('/api/ping', { 'x-functions-key': 'own-key' })).status).toBe(200);
  expect((await get('/api/ping?code=xx')).status).toBe(401);
  expect((await get(`/admin/functions/ping/keys?code=${MASTER_KEY}`)).status).toBe(200);
});
