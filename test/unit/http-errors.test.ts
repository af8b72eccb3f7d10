/** The one error shape at the HTTP edge: what a handler throws, mapped by kind; stacks logged, never sent. */
import { HttpRequest, type HttpResponseInit, InvocationContext } from '@azure/functions';

import { withHttpErrors } from '../../functions/edge/http-errors';
import { problem } from '../../functions/edge/http-response';
import {
  AccessDeniedError,
  asCallerError,
  ConflictError,
  NotFoundError,
  ServiceError,
  ThrottledError,
  TransientError,
  ValidationError,
} from '../../shared/errors';

const request = () => new HttpRequest({ url: 'http://localhost/api/x', method: 'GET' });

async function answer(outcome: () => HttpResponseInit | Promise<HttpResponseInit>) {
  const logged: string[] = [];
  const context = new InvocationContext({
    invocationId: 'inv-123',
    logHandler: (_level, ...args) => logged.push(args.join(' ')),
  });
  const response = (await withHttpErrors(async () => outcome())(request(), context)) as HttpResponseInit;
  return {
    response,
    body: response.jsonBody as Record<string, unknown>,
    headers: response.headers as Record<string, string>,
    logged,
  };
}

test.each([
  [new ValidationError('scope.lot.manufacturer is missing'), 400, 'BadRequest', 'scope.lot.manufacturer is missing'],
  [new NotFoundError('no incident inc-9'), 404, 'NotFound', 'no incident inc-9'],
  [new ConflictError('etag mismatch', 412), 409, 'Conflict', 'etag mismatch'],
])('%s is answered %i with its reason and the correlation id', async (err, status, error, reason) => {
  const { response, body, headers, logged } = await answer(() => {
    throw err;
  });
  expect(response.status).toBe(status);
  expect(body).toEqual({ error, reason, correlationId: 'inv-123' });
  expect(headers['x-correlation-id']).toBe('inv-123');
  expect(logged).toEqual([]);
});

test('a throttled dependency is a 503 with Retry-After in whole seconds, which DPS and clients retry', async () => {
  const { response, body, headers } = await answer(() => {
    throw new ThrottledError('429 from DPS', 2500, 429001);
  });
  expect(response.status).toBe(503);
  expect(headers['Retry-After']).toBe('3');
  expect(body).toMatchObject({ error: 'ServiceUnavailable', correlationId: 'inv-123' });
});

test('a dependency that did not answer in time (TransientError) is a 503 with Retry-After naming nothing internal', async () => {
  const { response, body, headers, logged } = await answer(() => {
    throw new TransientError('upload import-uploads/acme-1/upload: no bytes moved for 30000 ms', undefined);
  });
  expect(response.status).toBe(503);
  expect(headers['Retry-After']).toBe('5');
  expect(body).toEqual({
    error: 'ServiceUnavailable',
    reason: 'A service this call depends on did not answer in time; try again.',
    correlationId: 'inv-123',
  });
  expect(JSON.stringify(body)).not.toContain('import-uploads');
  // The correlation id leads to the logged cause: one warning under it, naming what stalled.
  expect(logged).toHaveLength(1);
  expect(logged[0]).toContain('[inv-123]');
  expect(logged[0]).toContain('no bytes moved for 30000 ms');
});

test('a dependency that refused our identity or stayed down (UnavailableError) is a 503 naming it, not logged as ours', async () => {
  const { response, body, logged } = await answer(() => {
    throw asCallerError(
      'Azure Device Registry',
      'reading certificate policy ns/ica/p',
      new AccessDeniedError('GET …: AuthorizationFailed', 403, 'AuthorizationFailed'),
    );
  });
  expect(response.status).toBe(503);
  expect(body).toEqual({
    error: 'ServiceUnavailable',
    reason:
      "Azure Device Registry refused this backend's identity while reading certificate policy ns/ica/p (HTTP 403): GET …: AuthorizationFailed — its role assignment there is missing",
    correlationId: 'inv-123',
  });
  expect(logged).toEqual([]);
  // The same service refusing what the caller named is the caller's 400, with the service's reason.
  const refused = await answer(() => {
    throw asCallerError(
      'DPS',
      'writing enrollment group g',
      new ServiceError('CA not accepted (HTTP 400, 400004)', 400),
    );
  });
  expect(refused.response.status).toBe(400);
  expect(refused.body.reason).toBe('DPS refused writing enrollment group g: CA not accepted (HTTP 400, 400004)');
});

test('anything else is a 500 that names no internals; the stack is logged under the correlation id', async () => {
  for (const err of [
    new TypeError("Cannot read properties of undefined (reading 'x')"),
    new AccessDeniedError('403 from IoT Hub', 403),
    'a thrown string',
  ]) {
    const { response, body, logged } = await answer(() => {
      throw err;
    });
    expect(response.status).toBe(500);
    expect(body).toEqual({
      error: 'InternalError',
      reason: expect.stringContaining('correlation id'),
      correlationId: 'inv-123',
    });
    expect(JSON.stringify(body)).not.toMatch(/TypeError|403 from IoT Hub|thrown string|at /);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('[inv-123]');
    expect(logged[0]).toContain(err instanceof Error ? (err.stack?.split('\n')[1]?.trim() ?? err.message) : err);
  }
});

test('an error a handler returns gets the same correlation id; a success is passed through untouched', async () => {
  const refused = await answer(() => problem(403, 'Forbidden', 'this route needs the Admin role'));
  expect(refused.body).toEqual({
    error: 'Forbidden',
    reason: 'this route needs the Admin role',
    correlationId: 'inv-123',
  });
  const fine = await answer(() => ({ status: 200, jsonBody: { error: 'a field that happens to be called error' } }));
  expect(fine.response).toEqual({ status: 200, jsonBody: { error: 'a field that happens to be called error' } });
});

test('without a host invocation id, each answer gets a fresh one', async () => {
  const handler = withHttpErrors(async () => {
    throw new NotFoundError('gone');
  });
  const a = (await handler(request(), new InvocationContext())) as HttpResponseInit;
  const b = (await handler(request(), new InvocationContext())) as HttpResponseInit;
  const id = (r: HttpResponseInit) => (r.jsonBody as { correlationId: string }).correlationId;
  expect(id(a)).toMatch(/^[0-9a-f-]{36}$/);
  expect(id(a)).not.toBe(id(b));
});
