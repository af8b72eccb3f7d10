/**
 * From the attacker's (or an unlucky ARM's) side, at the ADR adapter: once ADR has accepted `revokeAndRotate` (its
 * 202 came), nothing met while following the operation may come out of the adapter as a ThrottledError or a
 * ServiceError — a caller retrying on those would send the POST again and revoke the CA the first rotation made
 * (review finding 1a), or take a poll's 4xx for "ADR refused it" and never audit a rotation that happened (1b).
 * Polls throttled past the pipeline's own retries are waited out; anything that still ends the following is an
 * OutcomeUnknownError naming the operation. The POST is sent exactly once in every case. Scripted HTTP client, as the
 * reviewer's scenario (test/unit/incidents/adr-rotate-throttled-poll in the review) drove it through adr-rotate.
 */
import { createHttpHeaders, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';

import { MAX_POLLS } from '../../../shared/azure/arm-operations';
import { ArmDeviceRegistry } from '../../../shared/azure/device-registry';
import { OutcomeUnknownError, ServiceError, ThrottledError } from '../../../shared/errors';

const RG = '/subscriptions/s/resourceGroups/rg';
const OP =
  'https://management.azure.com/subscriptions/s/providers/Microsoft.DeviceRegistry/locations/x/operationStatuses/1?api-version=2026-11-01';

type Answer = { status: number; body?: unknown };

/** ADR that accepts the action and answers its operation's polls as `pollAnswer` says (n counts every poll request). */
function adr(pollAnswer: (n: number) => Answer, method: 'POST' | 'PATCH' = 'POST') {
  const counts = { actions: 0, polls: 0, reads: 0 };
  const httpClient: HttpClient = {
    sendRequest: async (request: PipelineRequest) => {
      const answer = (status: number, body?: unknown, headers: Record<string, string> = {}) => ({
        request,
        status,
        headers: createHttpHeaders({ 'retry-after': '0', ...headers }),
        bodyAsText: body === undefined ? undefined : JSON.stringify(body),
      });
      if (request.method === method) {
        counts.actions++;
        return answer(202, undefined, { 'azure-asyncoperation': OP });
      }
      if (new URL(request.url).pathname.includes('operationStatuses')) {
        const a = pollAnswer(counts.polls++);
        return answer(a.status, a.body);
      }
      counts.reads++;
      return answer(200, { name: 'dev-1', properties: { enablementState: 'Disabled' } });
    },
  };
  const registry = new ArmDeviceRegistry({
    resourceGroupId: RG,
    credential: { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    httpClient,
    wait: async () => undefined,
  });
  return { registry, counts };
}

const throttled: Answer = { status: 429, body: { error: { code: 'TooManyRequests', message: 'slow down' } } };

test('polls throttled past the pipeline’s own retries are waited out: the rotation ends, its POST sent once', async () => {
  // The reviewer's scenario: four 429s in a row (the pipeline tries a call four times), then the operation ends.
  const { registry, counts } = adr((n) => (n < 4 ? throttled : { status: 200, body: { status: 'Succeeded' } }));
  await expect(registry.revokeAndRotate('ns-1', 'ica-1')).resolves.toBeUndefined();
  expect(counts).toEqual({ actions: 1, polls: 5, reads: 0 });
});

test('polls throttled until the polls’ bound: an outcome unknown, never a ThrottledError; the POST sent once', async () => {
  const { registry, counts } = adr(() => throttled);
  const failure = await registry.revokeAndRotate('ns-1', 'ica-1').catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(OutcomeUnknownError);
  expect(failure).not.toBeInstanceOf(ThrottledError);
  expect(failure).not.toBeInstanceOf(ServiceError);
  expect(failure).toMatchObject({ operation: OP, message: /accepted \(202\), outcome unknown/ });
  expect(counts.actions).toBe(1);
  expect(counts.polls).toBeGreaterThanOrEqual(MAX_POLLS); // every poll was made: it gave up only at the bound
});

test.each([
  ['404, the operation unknown', { status: 404, body: { error: { code: 'NotFound', message: 'no such operation' } } }],
  ['403, the poll refused', { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no read' } } }],
  ['400', { status: 400, body: { error: { code: 'InvalidRequest', message: 'bad poll' } } }],
  // 503 with Retry-After: the pipeline retries it at once (a bare 500 would cost its real backoff of seconds).
  ['503 after the pipeline’s retries', { status: 503, body: { error: { code: 'ServiceUnavailable', message: 'x' } } }],
  ['Canceled', { status: 200, body: { status: 'Canceled', error: { code: 'Canceled', message: 'stopped' } } }],
])('a poll answered %s after ADR accepted the rotation is an outcome unknown, not a refusal', async (_what, poll) => {
  const { registry, counts } = adr(() => poll as Answer);
  const failure = await registry.revokeAndRotate('ns-1', 'ica-1').catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(OutcomeUnknownError);
  expect(failure).not.toBeInstanceOf(ServiceError); // adr-rotate reads a ServiceError 4xx as "ADR refused it"
  const code = ((poll as Answer).body as { error: { code: string } }).error.code;
  expect(failure).toMatchObject({ operation: OP, code, message: expect.stringContaining(code) });
  expect(counts.actions).toBe(1);
});

test('a PATCH (a state, safe to send again) waits out throttled polls too, and its failure stays the port’s error', async () => {
  const slow = adr((n) => (n < 5 ? throttled : { status: 200, body: { status: 'Succeeded' } }), 'PATCH');
  await slow.registry.setDeviceEnablement('ns-1', 'dev-1', 'Disabled');
  expect(slow.counts).toEqual({ actions: 1, polls: 6, reads: 1 });
  const failed = adr(
    () => ({ status: 200, body: { status: 'Failed', error: { code: 'Conflict', message: 'x' } } }),
    'PATCH',
  );
  const failure = await failed.registry.setDeviceEnablement('ns-1', 'dev-1', 'Disabled').catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ServiceError);
  expect(failure).not.toBeInstanceOf(OutcomeUnknownError);
});
