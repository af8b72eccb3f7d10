/**
 * `forEachLimited`: at most `limit` at once; after a failure nothing new starts, and those in flight finish before the
 * caller hears of it (nothing runs on behind a share that ended). `settledEach` throws the real failure before one
 * that only ran out of time, and starts no item once its deadline has come.
 */
import { forEachLimited, forEachLimitedSettled } from '../../shared/concurrency';
import { settledEach } from '../../shared/incidents/early-end';
import { OutOfTimeError } from '../../shared/retry';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** A deadline that never comes. */
const never = { stopAt: Infinity, now: () => 0 };

test('never more than the limit in flight, every item done once', async () => {
  let inFlight = 0;
  let most = 0;
  const done: number[] = [];
  await forEachLimited([...Array(23).keys()], 4, async (i) => {
    most = Math.max(most, ++inFlight);
    await turn();
    inFlight--;
    done.push(i);
  });
  expect(most).toBe(4);
  expect(done.sort((a, b) => a - b)).toEqual([...Array(23).keys()]);
});

test('after a failure no item starts, and those in flight finish before the failure is thrown', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  const run = forEachLimited([...Array(20).keys()], 3, async (i) => {
    started.push(i);
    if (i === 4) throw new Error('item 4 failed');
    await turn();
    await turn();
    finished.push(i);
  });
  await expect(run).rejects.toThrow('item 4 failed');
  // Thrown only once nothing is running: every item started (but 4) has finished, and none started after.
  expect(finished.sort((a, b) => a - b)).toEqual(started.filter((i) => i !== 4).sort((a, b) => a - b));
  expect(started.length).toBeLessThan(20);
});

test('every failure is answered; the real one is thrown before running out of time', async () => {
  const outOfTime = new OutOfTimeError(new Error('429'), 5000);
  const failures = await forEachLimitedSettled([0, 1], 2, async (i) => {
    await turn();
    throw i === 0 ? outOfTime : new Error('DPS unreachable');
  });
  expect(failures).toHaveLength(2);
  await expect(
    settledEach([0, 1], 2, never, async (i) => {
      if (i === 0) throw outOfTime;
      await turn();
      throw new Error('DPS unreachable');
    }),
  ).rejects.toThrow('DPS unreachable');
  await expect(settledEach([0], 1, never, () => Promise.reject(outOfTime))).rejects.toBe(outOfTime);
});

test('settledEach starts no item at or past its deadline: those in flight finish, the batch hears it ran out of time', async () => {
  let t = 0;
  const started: number[] = [];
  const finished: number[] = [];
  const run = settledEach([...Array(12).keys()], 3, { stopAt: 10, now: () => t }, async (i) => {
    started.push(i);
    await turn();
    t += 4; // each item takes 4 of the caller's milliseconds
    finished.push(i);
  });
  const err = await run.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(OutOfTimeError);
  // Three at 0, then one each as the clock reads 4 and 8; at 12 (past 10) nothing more starts.
  expect(started).toEqual([0, 1, 2, 3, 4]);
  expect(finished.sort((a, b) => a - b)).toEqual(started);
  expect((err as OutOfTimeError).resumeAt).toBeGreaterThanOrEqual(10);
});
