/** HTTP plumbing shared by the simulated services: bodies, JSON answers, and each service's error shape. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number | string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Request bodies as read, for the exchange recorder (`SimulatorOptions.onExchange`). */
const bodies = new WeakMap<IncomingMessage, string>();

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  bodies.set(req, text);
  return text;
}

/** The body a handler read from `req` ('' when none did). */
export function bodyRead(req: IncomingMessage): string {
  return bodies.get(req) ?? '';
}

/** One request and its answer, as they crossed the wire. */
export interface WireExchange {
  host: string;
  method: string;
  url: string;
  requestBody: string;
  status: number;
  responseBody: string;
  /** The caller said it sends this request outside the contract on purpose (header OUTSIDE_CONTRACT_HEADER). */
  outsideContract?: boolean;
}

/**
 * The header a test sets on a request it sends outside the published contract on purpose, to see it refused. Only
 * such a request may break the request schema (and it must be refused with 400): a production adapter never sets it,
 * so a body it gets wrong fails the contract check even when the simulator refuses it.
 */
export const OUTSIDE_CONTRACT_HEADER = 'x-dpsl-outside-contract';

/** Calls `record` with the exchange once `res` is answered (bodies go out whole, through `res.end`). */
export function recordExchange(
  req: IncomingMessage,
  res: ServerResponse,
  host: string,
  record: (e: WireExchange) => void,
): void {
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    const [chunk] = args;
    const responseBody = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    record({
      host,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      requestBody: bodyRead(req),
      status: res.statusCode,
      responseBody,
      ...(req.headers[OUTSIDE_CONTRACT_HEADER] ? { outsideContract: true } : {}),
    });
    return end(...args);
  }) as ServerResponse['end'];
}

export async function readJson<T>(req: IncomingMessage): Promise<T | undefined> {
  const text = await readBody(req);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new HttpError(400, 400004, 'The request body is not valid JSON.');
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** DPS answers errors as `{ errorCode, trackingId, message, timestampUtc }`. */
export function sendDpsError(res: ServerResponse, err: HttpError): void {
  sendJson(
    res,
    err.status,
    { errorCode: err.code, trackingId: randomUUID(), message: err.message, timestampUtc: new Date().toISOString() },
    err.headers,
  );
}

/** IoT Hub answers errors as `{ Message: "ErrorCode:<code>;<text>", ExceptionMessage }`, which the hub SDK parses. */
export function sendHubError(res: ServerResponse, err: HttpError): void {
  sendJson(
    res,
    err.status,
    {
      Message: `ErrorCode:${err.code};${err.message}`,
      ExceptionMessage: `Tracking ID:${randomUUID().replace(/-/g, '')}-G:0-TimeStamp:${new Date().toISOString()}`,
    },
    err.headers,
  );
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

let etagCounter = 0;
/** An opaque, quoted etag, new on every write. */
export function newEtag(): string {
  return `"${Buffer.from(`${Date.now()}:${++etagCounter}`).toString('base64')}"`;
}

/** True when an `If-Match` header allows a write over `current` (absent or `*` always does). */
export function ifMatchAllows(ifMatch: string | undefined, current: string | undefined): boolean {
  if (!ifMatch || ifMatch === '*' || ifMatch === '"*"') return true;
  const strip = (s: string) => s.replace(/^W\//, '').replace(/^"|"$/g, '');
  return current !== undefined && strip(ifMatch) === strip(current);
}

/** The form of every published api-version of DPS and IoT Hub (`2021-10-01`, `2025-07-01-preview`). */
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

/** Why `value` is not an api-version the services take, or undefined when it is. Every operation requires one. */
export function apiVersionProblem(value: string | null | undefined): string | undefined {
  if (!value) return 'The api-version query parameter is required.';
  if (!API_VERSION.test(value))
    return `The api-version '${value}' is not a published API version (YYYY-MM-DD[-preview]).`;
  return undefined;
}
