/** The command line run in process, as a maker would run it against a host, with what it printed. */
import { buildProgram } from '../../cli/program';

export async function runCli(
  baseUrl: string,
  as: { token?: string; adminToken?: string },
  args: string[],
): Promise<string> {
  Object.assign(process.env, {
    DPS_LIFECYCLE_URL: baseUrl,
    DPS_LIFECYCLE_FUNCTION_KEY: 'fk',
    ...(as.token ? { DPS_LIFECYCLE_TOKEN: as.token } : {}),
    ...(as.adminToken ? { DPS_LIFECYCLE_ADMIN_TOKEN: as.adminToken } : {}),
  });
  const printed: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void printed.push(a.join(' ')));
  try {
    await buildProgram().parseAsync(['node', 'dps-lifecycle', ...args]);
  } finally {
    log.mockRestore();
  }
  return printed.join('\n');
}
