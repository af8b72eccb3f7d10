/**
 * The operator console's function key opens only the functions the console calls: its page, its views, and the
 * routes it acts through — each of which also wants an Admin or Reader identity, so the key alone opens nothing. The
 * key sits in the console's link (browser history, screenshots, a colleague's chat), so it must not be one that also
 * opens the allocation webhook (which trusts the key alone and writes the certificate inventory) or a maker's imports.
 * In Azure: a function key named `console` on each of these functions; locally: the host's per-function keys.
 */
export const CONSOLE_KEY_NAME = 'console';

export const CONSOLE_FUNCTIONS = [
  'console',
  'views-allocation',
  'views-imports',
  'views-import-rows',
  'views-incidents',
  'views-certificates',
  'views-issued-certificates',
  'allocate-explain',
  'findings-list',
  'findings-suppress',
  'incidents-get',
  'incidents-connected',
  'incidents-approve',
  'incidents-cancel',
  'incidents-release',
] as const;

/** The console's key on each of its functions, as the local host takes per-function keys. */
export function consoleFunctionKeys(value: string): Record<string, Record<string, string>> {
  return Object.fromEntries(CONSOLE_FUNCTIONS.map((fn) => [fn, { [CONSOLE_KEY_NAME]: value }]));
}
