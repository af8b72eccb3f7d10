/**
 * The local host refusing an oversized body (413) leaves the client's keep-alive connection usable: the body the
 * handler did not read is read and thrown away, or the answer says `Connection: close`. Before, the 413 went out with
 * `Connection: keep-alive` over a half-read body and the client's next call on that connection failed.
 */
import * as http from 'node:http';

import type { RunningHost } from '../../../dev/host/host';
import { registeredFunctions } from '../../../functions/edge/registry';
import { MAX_REQUEST_BYTES } from '../../../shared/allocation/rules/request-schema';
import { FUNCTION_KEY, startAppHost } from '../../support/app-host';

let host: RunningHost;
let agent: http.Agent;

beforeAll(async () => {
  await import('../../../functions/allocate'); // the webhook refuses a body over MAX_REQUEST_BYTES before parsing it
  host = await startAppHost({ registrations: registeredFunctions().filter((r) => r.name === 'allocate'), env: {} });
});
afterAll(async () => {
  agent?.destroy();
  await host?.close();
});
beforeEach(() => {
  agent?.destroy();
  // One socket: the second call must go over the connection the first one used, if the server kept it.
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
});

interface Answer {
  status: number;
  connection: string | undefined;
  body: string;
}

/** POSTs to the webhook; `chunked` sends no Content-Length, so the limit is found while reading. */
function post(body: Buffer, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = body.length;
    const req = http.request(
      `${host.baseUrl}/api/allocate?code=${FUNCTION_KEY}`,
      { method: 'POST', agent, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (chunked) {
      // In pieces, as a streaming client sends it.
      for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.subarray(i, i + 16 * 1024));
      req.end();
    } else req.end(body);
  });
}

const oversized = Buffer.alloc(MAX_REQUEST_BYTES + 64 * 1024, 'x');

test.each([
  ['a declared Content-Length', false],
  ['a chunked body', true],
])('after a 413 for %s, the next call on the keep-alive agent succeeds', async (_, chunked) => {
  const refused = await post(oversized, chunked);
  expect(refused.status).toBe(413);
  expect(JSON.parse(refused.body)).toMatchObject({ error: 'PayloadTooLarge' });

  // The webhook answers a body that is not JSON with a 400: reaching it proves the call went through.
  const next = await post(Buffer.from('not json'));
  expect(next.status).toBe(400);
  expect(JSON.parse(next.body)).toMatchObject({ error: 'BadRequest' });
});
