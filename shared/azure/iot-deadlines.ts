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

/** The app setting's deadline (a positive number of milliseconds), else the default. */
export function iotDeadlines(env: Env): IotDeadlines {
  const deadlineMs = numberSetting(env, 'iotDeadlineMs', (n) => n > 0);
  return deadlineMs === undefined ? {} : { deadlineMs };
}
