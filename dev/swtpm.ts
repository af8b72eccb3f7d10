/**
 * Real TPM 2.0s for the local stack: Debian's `swtpm` (libtpms) as TCP TPMs on loopback, each with its own state
 * directory, on free ports. The demo and the TPM tests start as many as they need and stop them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const SWTPM_INSTALL = 'apt-get install swtpm (Debian, Ubuntu), dnf install swtpm (Fedora), brew install swtpm';

export interface RunningTpm {
  /** `127.0.0.1:port`, as `--tpm` takes it. */
  address: string;
  stateDir: string;
  stop(): Promise<void>;
}

/** The swtpm binary on PATH (or Debian's place), if installed. */
export function findSwtpm(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'swtpm');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until swtpm listens, or fails with what it said when it exits first. */
async function listening(child: ChildProcess, port: number, output: () => string): Promise<void> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    if (child.exitCode !== null) throw new Error(`swtpm exited with ${child.exitCode}: ${output()}`);
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`swtpm did not listen on 127.0.0.1:${port} within 10 s: ${output()}`);
}

/** A fresh TPM (new endorsement seed, empty NV), powered on and started up, on loopback. */
export async function startSwtpm(stateDir = mkdtempSync(join(tmpdir(), 'swtpm-'))): Promise<RunningTpm> {
  const binary = findSwtpm();
  if (!binary) throw new Error(`swtpm is not installed: ${SWTPM_INSTALL}`);
  const [port, ctrlPort] = [await freePort(), await freePort()];
  const child = spawn(
    binary,
    [
      'socket',
      '--tpm2',
      '--tpmstate',
      `dir=${stateDir}`,
      '--server',
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${ctrlPort},bindaddr=127.0.0.1`,
      '--flags',
      'not-need-init,startup-clear',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let said = '';
  child.stdout?.on('data', (d: Buffer) => (said += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (said += d.toString()));
  await listening(child, port, () => said.trim());
  return {
    address: `127.0.0.1:${port}`,
    stateDir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
