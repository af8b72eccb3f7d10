/**
 * Function keys of the local host, as the Functions host keeps them: each function has named keys of its own, beside
 * the host-wide function key and the master key. Managed with the host's key API, master key only:
 * `GET /admin/functions/{name}/keys` → `{ keys: [{ name, value }] }`, `PUT /admin/functions/{name}/keys/{keyName}`
 * with `{ name, value }` (a value is generated when absent), `DELETE /admin/functions/{name}/keys/{keyName}`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compared as SHA-256 digests: always 32 bytes each, so timingSafeEqual never throws (it does on unequal byte lengths,
 * which a right-length key in non-ASCII characters reached: a 500 that told the key's length) and nothing is compared
 * by length first. Every key is compared, so the time does not say which one matched either.
 */
export function keyMatches(given: string | undefined, ...keys: string[]): boolean {
  if (!given) return false;
  const theirs = digest(given);
  return keys.map((k) => timingSafeEqual(digest(k), theirs)).includes(true);
}

export interface KeyAnswer {
  status: number;
  jsonBody?: unknown;
}

export class FunctionKeys {
  private readonly keys = new Map<string, Map<string, string>>();

  constructor(initial: Record<string, Record<string, string>> = {}) {
    for (const [fn, named] of Object.entries(initial)) this.keys.set(fn.toLowerCase(), new Map(Object.entries(named)));
  }

  /** The keys of this function alone (not the host's). */
  of(fn: string): string[] {
    return [...(this.keys.get(fn.toLowerCase())?.values() ?? [])];
  }

  /** Answers a key API call (the caller has checked the master key); undefined when the path is not one. */
  handle(method: string, path: string, body: string): KeyAnswer | undefined {
    const m = /^\/admin\/functions\/([^/]+)\/keys(?:\/([^/]+))?\/?$/.exec(path);
    if (!m) return undefined;
    const fn = m[1].toLowerCase();
    const named = this.keys.get(fn) ?? new Map<string, string>();
    this.keys.set(fn, named);
    const keyName = m[2] && decodeURIComponent(m[2]);
    if (method === 'GET' && !keyName)
      return { status: 200, jsonBody: { keys: [...named].map(([name, value]) => ({ name, value })) } };
    if (method === 'PUT' && keyName) {
      const value =
        (body ? (JSON.parse(body) as { value?: string }).value : undefined) ?? randomBytes(32).toString('base64url');
      const existed = named.has(keyName);
      named.set(keyName, value);
      return { status: existed ? 200 : 201, jsonBody: { name: keyName, value } };
    }
    if (method === 'DELETE' && keyName) return { status: named.delete(keyName) ? 204 : 404 };
    return { status: 405 };
  }
}
