/**
 * Local settings in the Functions convention: `local.settings.json` (git-ignored) made from the committed
 * `local.settings.example.json` on first run. Every endpoint, key and connection string of the local stack is
 * there, so tests and tools find them. The values are development-only and public.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

import { consoleFunctionKeys } from '../functions/edge/console-key';

export const ROOT = join(__dirname, '..', existsSync(join(__dirname, '..', 'package.json')) ? '' : '..');

export interface LocalSettings {
  Values: Record<string, string>;
  Host?: { LocalHttpPort?: number };
}

export function loadLocalSettings(root = ROOT): LocalSettings {
  const file = join(root, 'local.settings.json');
  if (!existsSync(file)) copyFileSync(join(root, 'local.settings.example.json'), file);
  // Settings added to the example since this copy was made are filled in; the developer's own values win.
  const example = JSON.parse(readFileSync(join(root, 'local.settings.example.json'), 'utf8')) as LocalSettings;
  const own = JSON.parse(readFileSync(file, 'utf8')) as LocalSettings;
  const settings: LocalSettings = { ...example, ...own, Values: { ...example.Values, ...own.Values } };
  for (const name of ['LOCAL_CA_FILE', 'EVENT_LOG_PATH', 'ALLOCATION_POLICY_FILE', 'MANUFACTURERS_FILE'])
    if (settings.Values[name]) settings.Values[name] = resolvePath(settings.Values[name], root);
  return settings;
}

/** Resolves a settings path (relative paths are relative to the project root). */
export function resolvePath(path: string, root = ROOT): string {
  return isAbsolute(path) ? path : join(root, path);
}

/** The local host's keys as `npm start` gives them: the host-wide function key, the master key, the console's own key. */
export function localHostKeys(values: Record<string, string | undefined>) {
  return {
    functionKey: values.DEV_FUNCTION_KEY ?? '',
    masterKey: values.DEV_MASTER_KEY ?? '',
    functionKeys: consoleFunctionKeys(values.DEV_CONSOLE_KEY ?? ''),
  };
}

/**
 * The console's link `npm start` prints: the console's key in the query (it opens the console's functions only, never
 * the webhook or the imports), the local admin's secret in the fragment (which no browser sends to a server).
 */
export function consoleLink(baseUrl: string, values: Record<string, string | undefined>): string {
  const adminSecret = /@admin=([^,]+)/.exec(values.LOCAL_BEARER_SECRETS ?? '')?.[1] ?? '';
  return `${baseUrl}/api/console?code=${encodeURIComponent(values.DEV_CONSOLE_KEY ?? '')}#token=${encodeURIComponent(adminSecret)}`;
}
