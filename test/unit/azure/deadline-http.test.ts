/**
 * The IoT SDKs' HTTP layer under our deadline, against a plain HTTP server on loopback that answers, stalls before its
 * answer, or stalls in the middle of its body. A stall never answers, so each outcome is the same on any machine.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { DeadlineHttp, IotDeadlineError } from '../../../shared/azure/deadline-http';

let server: http.Server;
let port: number;
/** Resolves when the server sees the connection of the request for that path close. */
const closed = new Map<string, Promise<void>>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    closed.set(req.url as string, new Promise((resolve) => req.socket.once('close', () => resolve())));
    if (req.url === '/answer') return res.end('{"ok":true}');
    if (req.url === '/stall-body') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"half":'); // and never the rest
    }
    // '/stall': nothing, ever
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** One request through the SDK's `buildRequest` (plain HTTP to the loopback port): every callback it makes. */
function call(path: string, deadlineMs: number) {
  const calls: Array<{ err: Error | null; body?: string }> = [];
  const first = new Promise<void>((resolve) => {
    const request = new DeadlineHttp({ deadlineMs }).buildRequest(
      'GET',
      path,
      {},
      '127.0.0.1',
      { port, request: http.request },
      (err, body) => {
        calls.push({ err, body });
        resolve();
      },
    );
    request.end();
  });
  return { calls, first };
}

/**
 * The server has seen the connection close. The client destroyed it first, and its own errors on the request and the
 * response come in the ticks after that, so any second callback has been made by now.
 */
async function serverSawClose(path: string) {
  await closed.get(path);
  await new Promise((resolve) => setImmediate(resolve));
}

test('an answer before the deadline passes through unchanged, once', async () => {
  const { calls, first } = call('/answer', 5000);
  await first;
  expect(calls).toEqual([{ err: null, body: '{"ok":true}' }]);
});

test('no answer: the caller hears the deadline once, and the connection is closed', async () => {
  const { calls, first } = call('/stall', 200);
  await first;
  await serverSawClose('/stall');
  expect(calls).toHaveLength(1);
  expect(calls[0].err).toBeInstanceOf(IotDeadlineError);
  expect(calls[0].err?.message).toBe('GET /stall: no answer within 200 ms');
});

test('an answer that stops half way: the deadline, once, though the request and the response both fail', async () => {
  const { calls, first } = call('/stall-body', 200);
  await first;
  await serverSawClose('/stall-body');
  expect(calls.map((c) => c.err?.message)).toEqual(['GET /stall-body: no answer within 200 ms']);
});
