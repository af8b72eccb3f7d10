/**
 * The two retry rules and the error translation they rely on: a lost connection or a 5xx/408 becomes a TransientError,
 * which only `retryIdempotent` tries again, with a bounded, jittered backoff drawn from the given source; and no wait
 * that would pass the caller's deadline is started.
 */
import { translateIotError } from '../../shared/azure/iot-errors';
import { ServiceError, ThrottledError, TransientError } from '../../shared/errors';
import { OutOfTimeError, retryIdempotent, retryThrottled } from '../../shared/retry';

/** A call that fails with the given errors in turn, then answers 'ok'. */
function failing(...errors: Error[]) {
  let calls = 0;
  const call = async () => {
    const err = errors[calls++];
    if (err) throw err;
    return 'ok';
  };
  return { call, calls: () => calls };
}

const sdkError = (status: number | undefined, extra: object = {}) =>
  Object.assign(new Error('boom'), status === undefined ? extra : { response: { statusCode: status, headers: {} } });

test('a reset connection, 408 and 5xx become TransientError; 400 and 404 do not', () => {
  expect(translateIotError(sdkError(undefined, { code: 'ECONNRESET' }))).toBeInstanceOf(TransientError);
  expect(translateIotError(new Error('socket hang up'))).toBeInstanceOf(TransientError);
  for (const status of [408, 500, 502, 503, 504])
    expect(translateIotError(sdkError(status))).toBeInstanceOf(TransientError);
  expect(translateIotError(sdkError(400))).not.toBeInstanceOf(TransientError);
  expect(translateIotError(sdkError(400))).toBeInstanceOf(ServiceError);
  expect(translateIotError(sdkError(404))).not.toBeInstanceOf(TransientError);
  expect(translateIotError(new TypeError('a bug'))).not.toBeInstanceOf(TransientError);
});

test('retryIdempotent tries a transient fault again, with jittered exponential waits from the given source', async () => {
  const waits: number[] = [];
  const { call, calls } = failing(new TransientError('reset', undefined), new TransientError('503', 503));
  const answer = await retryIdempotent(call, {
    transientBaseDelayMs: 100,
    random: () => 0.5,
    sleep: async (ms) => void waits.push(ms),
  });
  expect(answer).toBe('ok');
  expect(calls()).toBe(3);
  // base × 2^(n-1) × (0.5 + random/2)
  expect(waits).toEqual([75, 150]);
});

test('retryIdempotent gives up after transientAttempts and throws the last fault', async () => {
  const faults = Array.from({ length: 10 }, (_, i) => new TransientError(`fault ${i}`, 503));
  const { call, calls } = failing(...faults);
  await expect(retryIdempotent(call, { transientAttempts: 4, sleep: async () => undefined })).rejects.toThrow(
    'fault 3',
  );
  expect(calls()).toBe(4);
});

test('throttling and transient faults are counted apart, and Retry-After is honoured', async () => {
  const waits: number[] = [];
  const { call, calls } = failing(
    new ThrottledError('429', 2000),
    new TransientError('reset', undefined),
    new ThrottledError('429', 3000),
  );
  await retryIdempotent(call, {
    attempts: 3,
    transientAttempts: 2,
    random: () => 0,
    sleep: async (ms) => void waits.push(ms),
  });
  expect(calls()).toBe(4);
  expect(waits).toEqual([2000, 100, 3000]);
});

test('retryThrottled never retries a transient fault: the call may not be safe to repeat', async () => {
  const { call, calls } = failing(new TransientError('reset', undefined));
  await expect(retryThrottled(call, { sleep: async () => undefined })).rejects.toBeInstanceOf(TransientError);
  expect(calls()).toBe(1);
});

test('a wait that would pass the deadline is not started: the caller hears OutOfTimeError, with the last fault', async () => {
  let clock = 1_000;
  const waits: number[] = [];
  const options = {
    stopAt: 5_000,
    now: () => clock,
    random: () => 0,
    sleep: async (ms: number) => void (waits.push(ms), (clock += ms)),
  };
  // Throttled: Retry-After 3 s fits (1 s + 3 s ≤ 5 s), the next 3 s would end at 7 s.
  const throttled = failing(new ThrottledError('429', 3000), new ThrottledError('429 again', 3000));
  const err = await retryIdempotent(throttled.call, options).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OutOfTimeError);
  expect((err as OutOfTimeError).fault.message).toBe('429 again');
  expect((err as OutOfTimeError).resumeAt).toBe(7_000);
  expect(throttled.calls()).toBe(2);
  expect(waits).toEqual([3000]);

  // Transient: the backoff (100, 200, 400 … with no jitter) runs until its next wait would pass the deadline.
  clock = 4_500;
  waits.length = 0;
  const transient = failing(...Array.from({ length: 6 }, (_, i) => new TransientError(`reset ${i}`, undefined)));
  await expect(retryIdempotent(transient.call, { ...options, transientBaseDelayMs: 200 })).rejects.toBeInstanceOf(
    OutOfTimeError,
  );
  expect(waits).toEqual([100, 200]); // 4.5 s + 0.1 + 0.2 = 4.8 s; 0.4 more would end at 5.2 s
  expect(transient.calls()).toBe(3);

  // Past the deadline a call is still made once (the work in hand may finish); only its retries are not.
  const late = failing(new TransientError('reset', undefined));
  clock = 9_000;
  await expect(retryIdempotent(late.call, options)).rejects.toBeInstanceOf(OutOfTimeError);
  expect(late.calls()).toBe(1);
  // Without a deadline nothing changes.
  expect(await retryIdempotent(failing(new ThrottledError('429', 60_000)).call, { sleep: async () => undefined })).toBe(
    'ok',
  );
});
