/**
 * Sending a maker's file: up to 100 MB through the import route; above that, straight to Blob storage with the upload
 * URL the backend hands out (Put Block of 8 MB, then Put Block List, as the Blob service's REST API takes a big
 * file), then `start`. Either way the file streams from disk and memory holds one block at most.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

import { api, type ClientConfig } from './client';

export const DIRECT_UPLOAD_MAX_BYTES = 100 * 1024 * 1024;
const BLOCK_BYTES = 8 * 1024 * 1024;

export interface UploadRequest {
  path: string;
  /** Through the upload URL whatever the size (the route for files above DIRECT_UPLOAD_MAX_BYTES). */
  viaUploadUrl?: boolean;
  file: string;
  size: number;
  contentType: string;
  headers: Record<string, string>;
}

/** Yields the file in blocks of exactly `blockBytes` (the last one shorter). */
export async function* blocksOf(file: string, blockBytes = BLOCK_BYTES): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let length = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    pending.push(chunk);
    length += chunk.length;
    while (length >= blockBytes) {
      const all = Buffer.concat(pending, length);
      yield all.subarray(0, blockBytes);
      pending = [all.subarray(blockBytes)];
      length -= blockBytes;
    }
  }
  if (length > 0) yield Buffer.concat(pending, length);
}

export async function putToBlob(uploadUrl: string, file: string): Promise<number> {
  const ids: string[] = [];
  for await (const block of blocksOf(file)) {
    const id = Buffer.from(String(ids.length).padStart(8, '0')).toString('base64');
    const res = await fetch(`${uploadUrl}&comp=block&blockid=${encodeURIComponent(id)}`, {
      method: 'PUT',
      body: block,
    });
    if (res.status !== 201) throw new Error(`uploading block ${ids.length} failed: ${res.status} ${await res.text()}`);
    ids.push(id);
  }
  const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
  const res = await fetch(`${uploadUrl}&comp=blocklist`, { method: 'PUT', body: list });
  if (res.status !== 201) throw new Error(`committing the upload failed: ${res.status} ${await res.text()}`);
  return ids.length;
}

/** Sends the file the way its size calls for; answers the HTTP status and the job as the backend shows it. */
export async function upload<T>(config: ClientConfig, request: UploadRequest): Promise<{ status: number; body: T }> {
  if (request.size <= DIRECT_UPLOAD_MAX_BYTES && !request.viaUploadUrl)
    return api<T>(config, request.path, {
      method: 'POST',
      headers: { 'content-type': request.contentType, ...request.headers },
      body: Readable.toWeb(createReadStream(request.file)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
  const [path, query] = request.path.split('?');
  const slot = await api<T & { uploadUrl?: string; startUrl: string; status: string }>(
    config,
    `${path}/uploads?${query ? `${query}&` : ''}format=${encodeURIComponent(request.contentType)}`,
    { method: 'POST', headers: request.headers },
  );
  if (!slot.body.uploadUrl) return slot; // this file was imported before (same idempotency key)
  const blocks = await putToBlob(slot.body.uploadUrl, request.file);
  console.log(`uploaded in ${blocks} blocks of ${BLOCK_BYTES / 1024 / 1024} MB; starting`);
  return api<T>(config, slot.body.startUrl, { method: 'POST', headers: request.headers });
}
