/** Small helpers for HTTP answers, so every function says errors the same way: `{ error, reason }`. */
import type { HttpResponseInit } from '@azure/functions';

export const ok = (body: unknown, headers: Record<string, string> = {}): HttpResponseInit => ({
  status: 200,
  jsonBody: body,
  headers,
});
export const accepted = (body: unknown, location: string): HttpResponseInit => ({
  status: 202,
  jsonBody: body,
  headers: { Location: location },
});
export const problem = (status: number, error: string, reason: string): HttpResponseInit => ({
  status,
  jsonBody: { error, reason },
});
export const badRequest = (reason: string) => problem(400, 'BadRequest', reason);
export const notFound = (reason: string) => problem(404, 'NotFound', reason);
export const conflict = (reason: string) => problem(409, 'Conflict', reason);
