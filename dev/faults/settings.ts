/**
 * The fault plan of `npm start`: the JSON document named by `LOCAL_FAULTS_FILE` (environment first, then the local
 * settings' Values). Unset, the stack runs without faults. The file is read again whenever it changes, so faults
 * can be switched on and off in a running stack; a document that does not parse leaves the previous plan in place.
 */
import { unwatchFile, watchFile } from 'node:fs';

import { resolvePath } from '../local-settings';
import type { FaultInjector } from './injector';
import { type FaultPlan, loadFaultPlan } from './plan';

export function faultsFile(values: Record<string, string | undefined>): string | undefined {
  const file = process.env.LOCAL_FAULTS_FILE || values.LOCAL_FAULTS_FILE;
  return file ? resolvePath(file) : undefined;
}

export function initialFaultPlan(file: string | undefined): FaultPlan | undefined {
  return file ? loadFaultPlan(file) : undefined;
}

/** Reloads the plan when the file changes; answers the function that stops watching. */
export function followFaultPlan(file: string, faults: FaultInjector, log: (line: string) => void): () => void {
  watchFile(file, { interval: 1000 }, () => {
    try {
      faults.set(loadFaultPlan(file));
      log(`faults: plan reloaded from ${file} (${faults.current().rules.length} rules)`);
    } catch (err) {
      log(`faults: ${file} not applied, the previous plan stays: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return () => unwatchFile(file);
}
