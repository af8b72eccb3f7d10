/**
 * How long a DPS or IoT Hub call may go without an answer before the adapter abandons it (shared/azure/deadline-http.ts).
 * The IoT service SDKs set no request timeout: a connection that stalls would hold the invocation until the Functions
 * host stops it. 30 s, as for Storage (storage-calls.ts): every call of DPS's and IoT Hub's service APIs answers in well
 * under a second when healthy, the Java service SDK gives up reading after 24 s, the .NET one after 100 s. A bulk write
 * (10 enrollments, 100 devices) and an import job's start are given twice as long: the service does more before it
 * answers. The deadline runs from the request's start to the answer's last byte, so it covers the connection too.
 */
import { type Env, numberSetting } from '../settings';

export const IOT_DEADLINE_MS = 30_000;

export interface IotDeadlines {
  /** A call without an answer this long is abandoned (default 30 s; `IOT_DEADLINE_MS`). */
  deadlineMs?: number;
  /** The same for a bulk write or an import job's start (default twice `deadlineMs`). */
  bulkDeadlineMs?: number;
}

/**
 * Calls that write many things at once, by method and path (the query string aside): DPS's bulk enrollment operation
 * (`POST /enrollments`), IoT Hub's bulk registry operation (`POST /devices`) and an import/export job's start
 * (`POST /jobs/create`). Queries (`POST /enrollments/query`, `POST /devices/query`) are reads of one page.
 */
const BULK = new Set(['POST /enrollments', 'POST /devices', 'POST /jobs/create']);

/** The deadline of one call, in milliseconds. */
export function iotDeadlineMs(method: string, path: string, deadlines: IotDeadlines = {}): number {
  const base = deadlines.deadlineMs ?? IOT_DEADLINE_MS;
  const route = `${method.toUpperCase()} ${path.split('?')[0].replace(/\/+$/, '')}`;
  return BULK.has(route) ? (deadlines.bulkDeadlineMs ?? 2 * base) : base;
}

/** Node's timers hold at most 2^31 - 1 ms: a longer delay fires after 1 ms, abandoning every call at once. */
const TIMER_MAX_MS = 2 ** 31 - 1;
/** Below a second is a typo for seconds, not a deadline: every call would be abandoned and sent again. */
const SHORTEST_MS = 1000;

/**
 * The app setting's deadline, else the default: whole milliseconds from 1 s up to where twice it (a bulk call's)
 * still fits a timer. Anything else is not taken (the default applies, as for every number setting).
 */
export function iotDeadlines(env: Env): IotDeadlines {
  const deadlineMs = numberSetting(
    env,
    'iotDeadlineMs',
    (n) => Number.isInteger(n) && n >= SHORTEST_MS && 2 * n <= TIMER_MAX_MS,
  );
  return deadlineMs === undefined ? {} : { deadlineMs };
}
