/** Shared by the benchmarks: child processes timed from spawn to first answer, autocannon runs, and printing. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

import autocannon from 'autocannon';

/** Spawns `script` (compiled JS), waits for it to print `port=N`, then POSTs `body` until a 200; returns ms from spawn. */
export async function coldStart(
  script: string,
  env: Record<string, string | undefined>,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    let out = '';
    let port: number | undefined;
    while (port === undefined) {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      out += chunk.toString();
      port = Number(/port=(\d+)/.exec(out)?.[1]) || undefined;
    }
    for (;;) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - started;
      if (performance.now() - started > 30_000) throw new Error(`no 200 within 30 s (last ${res.status})`);
    }
  } finally {
    child.kill();
  }
}

/** Spawns `script` (compiled JS) and waits for it to print `port=N`. */
export async function serve(
  script: string,
  env: Record<string, string | undefined>,
): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  while (!/port=\d+/.test(out))
    out += ((await once(child.stdout as NodeJS.ReadableStream, 'data')) as [Buffer])[0].toString();
  return { port: Number(/port=(\d+)/.exec(out)?.[1]), child };
}

export async function median(n: number, run: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await run());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

export async function load(
  url: string,
  body: string,
  options: { duration: number; connections: number; overallRate?: number; headers?: Record<string, string> },
) {
  const result = await autocannon({
    url,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...options.headers },
    connections: options.connections,
    duration: options.duration,
    overallRate: options.overallRate,
  });
  if (result.non2xx || result.errors)
    throw new Error(`load run had ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
  };
}

export const fmt = (n: number, digits = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const ratio = (ours: number, base: number) =>
  `${ours / base >= 0.1 ? (ours / base).toFixed(2) : (ours / base).toPrecision(2)}×`;

/** Tears down what a benchmark started: the events sink, the local stack, its data folder. */
export async function tearDown(
  events: { close(): Promise<void> },
  stack: { close(): Promise<void> },
  dataDir: string,
): Promise<void> {
  await events.close();
  await stack.close();
  rmSync(dataDir, { recursive: true, force: true });
}

/** Runs a benchmark's main and exits (child processes and timers must not keep it alive). */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** The exit code of a bench worker whose invocation overran the host's functionTimeout and was killed. */
export const WORKER_OVERRAN = 3;

/** A Functions instance with the queues driven (test/bench/import-host.ts); resolves with its URL. */
export function startImportHost(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [join(__dirname, 'import-host.js')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // @azure/functions warns that it runs outside the Functions runtime, once per function; anything else is shown.
  child.stderr?.on('data', (c: Buffer) => {
    for (const l of c.toString().split('\n')) if (l.trim() && !l.startsWith('WARNING:')) console.error(l);
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const port = /port=(\d+)/.exec(out)?.[1];
      if (port) resolve({ child, url: `http://127.0.0.1:${port}` });
    });
    child.once('exit', (code) => reject(new Error(`import host exited ${code}`)));
  });
}
