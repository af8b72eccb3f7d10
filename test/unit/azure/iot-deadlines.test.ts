/**
 * The deadlines of DPS and IoT Hub calls: which calls get the bulk deadline, the app setting, and how an abandoned
 * call reaches the callers (a TransientError: the answer lost, as after a connection reset).
 */
import { IotDeadlineError } from '../../../shared/azure/deadline-http';
import { IOT_DEADLINE_MS, iotDeadlineMs, iotDeadlines } from '../../../shared/azure/iot-deadlines';
import { translateIotError } from '../../../shared/azure/iot-errors';
import { TransientError } from '../../../shared/errors';

test('a single call gets 30 s, a bulk write or an import job’s start twice that', () => {
  expect(IOT_DEADLINE_MS).toBe(30_000);
  const bulk = [
    ['POST', '/enrollments/?api-version=2021-10-01'], // DPS bulk, as the SDK sends it
    ['POST', '/enrollments?api-version=2026-11-01'], // DPS bulk, as our 2026-11-01 calls send it
    ['POST', '/devices?api-version=2021-04-12'], // IoT Hub bulk registry operation
    ['POST', '/jobs/create?api-version=2021-04-12'], // an import job's start
  ];
  for (const [method, path] of bulk) expect([path, iotDeadlineMs(method, path)]).toEqual([path, 60_000]);
  const single = [
    ['GET', '/enrollments/dev-1?api-version=2021-10-01'],
    ['PUT', '/enrollments/dev-1?api-version=2026-11-01'],
    ['POST', '/enrollments/query?api-version=2021-10-01'],
    ['POST', '/devices/query?api-version=2021-04-12'],
    ['GET', '/devices?api-version=2021-04-12'], // a list, not the bulk write
    ['DELETE', '/devices/dev-1?api-version=2021-04-12'],
    ['GET', '/jobs?api-version=2021-04-12'],
    ['GET', '/jobs/job-1?api-version=2021-04-12'],
    ['GET', '/statistics/service?api-version=2021-04-12'],
  ];
  for (const [method, path] of single) expect([path, iotDeadlineMs(method, path)]).toEqual([path, 30_000]);
});

test('given deadlines replace the defaults; a bulk deadline not given is twice the given one', () => {
  expect(iotDeadlineMs('GET', '/enrollments/x', { deadlineMs: 500 })).toBe(500);
  expect(iotDeadlineMs('POST', '/devices', { deadlineMs: 500 })).toBe(1000);
  expect(iotDeadlineMs('POST', '/devices', { deadlineMs: 500, bulkDeadlineMs: 700 })).toBe(700);
  expect(iotDeadlineMs('GET', '/devices/x', { bulkDeadlineMs: 700 })).toBe(30_000);
});

test('IOT_DEADLINE_MS sets the deadline; unset, not a number, zero or negative leaves the default', () => {
  expect(iotDeadlines({ IOT_DEADLINE_MS: '1500' })).toEqual({ deadlineMs: 1500 });
  for (const value of [undefined, '', ' ', 'soon', '0', '-5'])
    expect([value, iotDeadlines({ IOT_DEADLINE_MS: value })]).toEqual([value, {}]);
});

test('a call abandoned at its deadline reaches the callers as a TransientError naming the call and the deadline', () => {
  const err = translateIotError(new IotDeadlineError('POST /devices', 60_000));
  expect(err).toBeInstanceOf(TransientError);
  expect(err).toMatchObject({ message: 'POST /devices: no answer within 60000 ms', status: undefined });
});
