/**
 * Cross-site request forgery, refused at the edge. A web page on another site can make a browser send a "simple"
 * request here without asking first (no CORS preflight): a form or `fetch(…, { mode: 'no-cors' })` POST with no
 * Content-Type or with text/plain, application/x-www-form-urlencoded or multipart/form-data. In Azure an operator's
 * App Service Authentication session is a cookie, which rides along, so such a page could approve an incident in the
 * operator's name. Every other Content-Type (application/json, an import's text/csv or application/x-ndjson) needs a
 * preflight that this app never grants (no CORS origin is allowed), so refusing the simple ones is enough: the CLI and
 * the console say `Content-Type: application/json`. A bearer token alone would not need this (a page on another site
 * cannot set Authorization); a cookie session does.
 */
import type { HttpHandler, HttpRequest, HttpResponseInit } from '@azure/functions';

import { problem } from './http-response';

// The Fetch standard's CORS-safelisted Content-Type values (by essence: before any parameter, case-insensitive).
const SIMPLE_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The 415 for a state-changing request any web page could have sent cross-site; undefined for any other. */
export function refuseSimpleRequest(request: HttpRequest): HttpResponseInit | undefined {
  if (SAFE_METHODS.has(request.method.toUpperCase())) return undefined;
  const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  if (type && !SIMPLE_TYPES.has(type)) return undefined;
  return problem(
    415,
    'UnsupportedMediaType',
    `${type ? `Content-Type ${type}` : 'A request without a Content-Type'} is one any web page can send from another ` +
      'site, so it cannot change anything here: send Content-Type: application/json (an import file: text/csv, ' +
      'application/x-ndjson or application/json).',
  );
}

export function refusingSimpleRequests(handler: HttpHandler): HttpHandler {
  return async (request, context) => refuseSimpleRequest(request) ?? handler(request, context);
}
