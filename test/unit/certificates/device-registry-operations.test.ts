/**
 * The ADR adapter's handling of ARM long-running operations, on a scripted HTTP client (the local ADR always answers
 * with Azure-AsyncOperation and never fails a rotation, so these paths are driven here): a `Location`-only 202 polled
 * until it stops answering 202, a `Failed` rotation surfaced as an outcome unknown with ARM's error, and the waits
 * taken from Retry-After.
 */
import { createHttpHeaders, type HttpClient, type PipelineRequest, RestError } from '@azure/core-rest-pipeline';

import { ArmDeviceRegistry } from '../../../shared/azure/device-registry';
import { NotFoundError, OutcomeUnknownError, ServiceError } from '../../../shared/errors';

type Scripted = { status: number; headers?: Record<string, string>; body?: unknown };
const RG = '/subscriptions/s/resourceGroups/rg';
const OP =
  'https://management.azure.com/subscriptions/s/providers/Microsoft.DeviceRegistry/locations/x/operationStatuses/1?api-version=2026-11-01';

function registry(script: Scripted[]) {
  const seen: string[] = [];
  const waits: number[] = [];
  const httpClient: HttpClient = {
    sendRequest: async (request: PipelineRequest) => {
      seen.push(`${request.method} ${new URL(request.url).pathname}`);
      const next = script.shift();
      if (!next) throw new Error(`unexpected ${request.method} ${request.url}`);
      return {
        request,
        status: next.status,
        headers: createHttpHeaders(next.headers),
        bodyAsText: next.body === undefined ? undefined : JSON.stringify(next.body),
      };
    },
  };
  const adr = new ArmDeviceRegistry({
    resourceGroupId: RG,
    credential: { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    httpClient,
    wait: async (ms) => void waits.push(ms),
  });
  return { adr, seen, waits };
}

test('a Location-only 202 is polled until it stops answering 202, each poll after its Retry-After', async () => {
  const { adr, seen, waits } = registry([
    { status: 202, headers: { location: OP, 'retry-after': '7' } },
    { status: 202, headers: { 'retry-after': '3' } },
    { status: 200, body: {} },
  ]);
  await adr.revokeAndRotate('ns-1', 'ica-1');
  expect(seen[0]).toBe(
    `POST ${RG}/providers/Microsoft.DeviceRegistry/namespaces/ns-1/certificateAuthorities/ica-1/revokeAndRotate`,
  );
  expect(seen.slice(1)).toEqual([`GET ${new URL(OP).pathname}`, `GET ${new URL(OP).pathname}`]);
  expect(waits).toEqual([7000, 3000]);
});

test('a Failed rotation is an outcome unknown (never a refusal) carrying ARM’s code and message', async () => {
  const { adr } = registry([
    { status: 202, headers: { 'azure-asyncoperation': OP } },
    { status: 200, body: { status: 'InProgress' } },
    {
      status: 200,
      body: { status: 'Failed', error: { code: 'KeyVaultUnavailable', message: 'the HSM did not answer' } },
    },
  ]);
  const failure = adr.revokeAndRotate('ns-1', 'ica-1');
  await expect(failure).rejects.toBeInstanceOf(OutcomeUnknownError);
  await expect(failure).rejects.not.toBeInstanceOf(ServiceError);
  await expect(failure).rejects.toMatchObject({
    code: 'KeyVaultUnavailable',
    operation: OP,
    message: /accepted \(202\), outcome unknown .* failed: KeyVaultUnavailable the HSM/,
  });
});

test('a PATCH that goes async ends with the resource read again; ARM’s 404 is NotFoundError', async () => {
  const { adr, seen } = registry([
    { status: 202, headers: { 'azure-asyncoperation': OP } },
    { status: 200, body: { status: 'Succeeded' } },
    { status: 200, body: { name: 'dev-1', properties: { enablementState: 'Disabled' } } },
    { status: 404, body: { error: { code: 'ResourceNotFound', message: 'Registry device dev-2 was not found.' } } },
  ]);
  await adr.setDeviceEnablement('ns-1', 'dev-1', 'Disabled');
  expect(seen.at(-1)).toBe(`GET ${RG}/providers/Microsoft.DeviceRegistry/namespaces/ns-1/registryDevices/dev-1`);
  await expect(adr.setDeviceEnablement('ns-1', 'dev-2', 'Disabled')).rejects.toBeInstanceOf(NotFoundError);
});

test('an action whose answer is lost is not sent again (a second revokeAndRotate would revoke the new CA); reads are', async () => {
  // What Node's HTTP client under the pipeline throws when the connection breaks before the answer.
  const reset = () => new RestError('socket hang up', { code: 'ECONNRESET' });
  const lost: Array<Scripted | Error> = [reset()];
  const seen: string[] = [];
  const adr = new ArmDeviceRegistry({
    resourceGroupId: RG,
    credential: { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    httpClient: {
      sendRequest: async (request: PipelineRequest) => {
        seen.push(request.method);
        const next = lost.shift() ?? {
          status: 200,
          body: { name: 'dev-1', properties: { enablementState: 'Disabled' } },
        };
        if (next instanceof Error) throw next;
        return {
          request,
          status: next.status,
          headers: createHttpHeaders(next.headers),
          bodyAsText: JSON.stringify(next.body),
        };
      },
    },
    wait: async () => undefined,
  });
  await expect(adr.revokeAndRotate('ns-1', 'ica-1')).rejects.toThrow(/socket hang up/);
  expect(seen).toEqual(['POST']);
  // A read is retried by the pipeline after the same fault, and the registry device is read whole.
  lost.push(reset());
  seen.length = 0;
  expect(await adr.registryDevice('ns-1', 'dev-1')).toEqual({
    namespaceName: 'ns-1',
    name: 'dev-1',
    enablementState: 'Disabled',
  });
  expect(seen).toEqual(['GET', 'GET']);
});
