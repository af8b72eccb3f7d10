/**
 * The stream's watch (shared/azure/stall-watch.ts) on jest's fake timers: time is moved by hand, so nothing here
 * depends on the machine's speed. It fires only after `stallMs` with no bytes moved while bytes are owed.
 */
import { StallWatch } from '../../../shared/azure/stall-watch';
import { StorageCalls } from '../../../shared/azure/storage-calls';
import { TransientError } from '../../../shared/errors';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('fires when no bytes moved for stallMs; every move starts the wait again', () => {
  const watch = new StallWatch(1000);
  watch.moved();
  jest.advanceTimersByTime(999);
  watch.moved(); // bytes came just in time
  jest.advanceTimersByTime(999);
  expect(watch.signal.aborted).toBe(false);
  jest.advanceTimersByTime(1);
  expect(watch.signal.aborted).toBe(true);
  expect(watch.stalled).toBe(true);
  watch.moved(); // too late: an aborted watch stays aborted
  expect(watch.signal.aborted).toBe(true);
});

test('idle while we hold the stream (a slow consumer, a slow maker): no stall however long', () => {
  const watch = new StallWatch(1000);
  watch.moved();
  jest.advanceTimersByTime(500);
  watch.idle();
  jest.advanceTimersByTime(60_000);
  expect(watch.signal.aborted).toBe(false);
  watch.moved(); // owed again: a full stallMs from now
  jest.advanceTimersByTime(999);
  expect(watch.signal.aborted).toBe(false);
  jest.advanceTimersByTime(1);
  expect(watch.stalled).toBe(true);
});

test('not started, stopped, or aborted for another reason: never a stall', () => {
  const unstarted = new StallWatch(1000);
  jest.advanceTimersByTime(5000);
  expect(unstarted.signal.aborted).toBe(false);
  const stopped = new StallWatch(1000);
  stopped.moved();
  stopped.stop();
  jest.advanceTimersByTime(5000);
  expect(stopped.signal.aborted).toBe(false);
  const aborted = new StallWatch(1000);
  aborted.moved();
  aborted.abort();
  expect(aborted.signal.aborted).toBe(true);
  expect(aborted.stalled).toBe(false);
});

test("a stream's failure: a stall says no bytes moved, a 503 or a lost connection is transient, a 404 passes", () => {
  const calls = new StorageCalls({ deadlineMs: 2000 });
  const stalled = calls.watch();
  stalled.moved();
  jest.advanceTimersByTime(2000);
  const abortError = Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
  const failure = calls.streamFailure(abortError, 'read f at byte 9', stalled);
  expect(failure).toBeInstanceOf(TransientError);
  expect((failure as Error).message).toBe('read f at byte 9: no bytes moved for 2000 ms');
  const busy = calls.streamFailure(Object.assign(new Error('busy'), { statusCode: 503 }), 'x', calls.watch());
  expect(busy).toBeInstanceOf(TransientError);
  const cut = calls.streamFailure(
    new Error('Data corruption failure: received less data than required and reached maxRetires limitation.'),
    'x',
    calls.watch(),
  );
  expect(cut).toBeInstanceOf(TransientError);
  const missing = Object.assign(new Error('not found'), { statusCode: 404 });
  expect(calls.streamFailure(missing, 'x', calls.watch())).toBe(missing);
});
