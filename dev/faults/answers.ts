/**
 * Injected error answers in each service's own shape, so the SDKs parse them as they parse Azure's: DPS's numeric
 * `errorCode`, IoT Hub's `ErrorCode:<name>;` message, Cosmos's `{ code, message }` with `x-ms-retry-after-ms`, and
 * Storage's XML `<Error>` with `x-ms-error-code`.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';

import { retryAfterHeader, type StatusFault } from './http';

const MESSAGE = 'Injected by the local stack (fault plan).';

/** DPS error codes are the status followed by three digits; 429001 is its throttling code. */
export function dpsCode(fault: StatusFault): number | string {
  return fault.code ?? (fault.status === 429 ? 429001 : fault.status * 1000);
}

const HUB_CODES: Record<number, string> = {
  408: 'GatewayTimeout',
  429: 'ThrottlingException',
  500: 'ServerError',
  503: 'ServiceUnavailable',
};
export function hubCode(fault: StatusFault): string | number {
  return fault.code ?? HUB_CODES[fault.status] ?? 'ServerError';
}

/** Cosmos DB's names for the statuses it answers, and the sub-status it sends with a 429 (3200: RU budget spent). */
const COSMOS_CODES: Record<number, string> = {
  408: 'RequestTimeout',
  429: 'TooManyRequests',
  449: 'RetryWith',
  500: 'InternalServerError',
  503: 'ServiceUnavailable',
};

export function sendCosmosError(res: ServerResponse, fault: StatusFault): void {
  const body = JSON.stringify({ code: fault.code ?? COSMOS_CODES[fault.status] ?? 'ServerError', message: MESSAGE });
  res.writeHead(fault.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-ms-activity-id': randomUUID(),
    ...(fault.status === 429 ? { 'x-ms-substatus': '3200' } : {}),
    ...(fault.retryAfterMs !== undefined ? { 'x-ms-retry-after-ms': String(fault.retryAfterMs) } : {}),
  });
  res.end(body);
}

const STORAGE_CODES: Record<number, string> = {
  408: 'OperationTimedOut',
  429: 'ServerBusy',
  500: 'InternalError',
  503: 'ServerBusy',
};

export function sendStorageError(res: ServerResponse, fault: StatusFault): void {
  const code = String(fault.code ?? STORAGE_CODES[fault.status] ?? 'InternalError');
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${MESSAGE}\nRequestId:${randomUUID()}</Message></Error>`;
  res.writeHead(fault.status, {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-ms-error-code': code,
    'x-ms-request-id': randomUUID(),
    ...retryAfterHeader(fault),
  });
  res.end(body);
}
