/**
 * Reading a request body with a size limit: a declared Content-Length over the limit is refused before a byte is
 * read, and a body that turns out longer (chunked, or lying) stops being read at the limit. Either way a 413.
 */
import type { HttpRequest } from '@azure/functions';

import { PayloadTooLargeError, ValidationError } from '../../shared/errors';

export async function readText(request: HttpRequest, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  if (!request.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new PayloadTooLargeError(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The body as JSON, read within `maxBytes` (413 beyond); a body that is not JSON is a 400 saying `whenNotJson`. */
export async function readJson(request: HttpRequest, maxBytes: number, whenNotJson: string): Promise<unknown> {
  const text = await readText(request, maxBytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(whenNotJson);
  }
}
