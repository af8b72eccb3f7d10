/**
 * The local Functions host. Core Tools cannot be installed here, so this serves the very handlers that
 * `functions/` registers: HTTP triggers at `/api/<route>` with the function-key check (`code=` or
 * `x-functions-key`; `authLevel` honoured), timers on their NCRONTAB schedules, queue triggers from Azurite,
 * Event Hubs triggers from `POST /admin/eventhubs/{name}`, and any non-HTTP function on demand at
 * `POST /admin/functions/{name}` with the master key (the Functions admin convention).
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { HttpRequest, HttpResponse, type HttpResponseInit, InvocationContext, type Timer } from '@azure/functions';
import { Cron } from 'croner';

import type { FunctionRegistration } from '../../functions/edge/registry';
import { FunctionKeys, keyMatches } from './function-keys';
import { bodyStream, drainUnread } from './request-body';
import { compileRoute } from './routes';

export interface HostOptions {
  registrations: readonly FunctionRegistration[];
  port: number;
  functionKey: string;
  masterKey: string;
  /** Keys of single functions, by function then key name (managed at runtime with the host's key API). */
  functionKeys?: Record<string, Record<string, string>>;
  /** App settings: queue connections are looked up here by their setting name. */
  env: Record<string, string | undefined>;
  /** false: timers only run on demand (tests). */
  runTimers?: boolean;
  /** false: queue triggers only run on demand (tests without Azurite). */
  driveQueues?: boolean;
  queue?: {
    batchSize?: number;
    maxDequeueCount?: number;
    retryDelaySeconds?: number;
    visibilityTimeoutSeconds?: number;
  };
  log?: (line: string) => void;
}

export interface RunningHost {
  port: number;
  baseUrl: string;
  close(): Promise<void>;
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function context(
  name: string,
  log: (line: string) => void,
  triggerMetadata: Record<string, unknown> = {},
): InvocationContext {
  return new InvocationContext({
    functionName: name,
    invocationId: randomUUID(),
    triggerMetadata,
    logHandler: (level, ...args) => log(`[${name}] ${level}: ${args.map(String).join(' ')}`),
  });
}

async function send(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  result: HttpResponseInit | HttpResponse | void,
): Promise<void> {
  const response = result instanceof HttpResponse ? result : new HttpResponse(result ?? { status: 204 });
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    headers[key] = value;
  });
  // A body the handler left unread (a 413 at the limit) is read off the connection first, or the connection closes.
  if (!(await drainUnread(req))) headers.connection = 'close';
  res.writeHead(response.status ?? 200, headers);
  res.end(body);
}

function timerInput(): Timer {
  return {
    isPastDue: false,
    schedule: { adjustForDST: true },
    scheduleStatus: { last: new Date().toISOString(), next: '', lastUpdated: new Date().toISOString() },
  } as Timer;
}

export async function startFunctionsHost(options: HostOptions): Promise<RunningHost> {
  const log = options.log ?? ((line: string) => console.log(line));
  const httpRoutes = options.registrations.flatMap((r) =>
    r.trigger === 'http' ? [{ r, match: compileRoute(r.options.route ?? r.name) }] : [],
  );
  const byName = new Map(options.registrations.map((r) => [r.name.toLowerCase(), r]));

  async function invokeNonHttp(r: FunctionRegistration, input: unknown): Promise<void> {
    switch (r.trigger) {
      case 'timer':
        return void (await r.options.handler(timerInput(), context(r.name, log)));
      case 'storageQueue':
        return void (await r.options.handler(
          typeof input === 'string' ? JSON.parse(input) : input,
          context(r.name, log, { dequeueCount: 1 }),
        ));
      case 'eventHub': {
        const many = r.options.cardinality !== 'one';
        const events = Array.isArray(input) ? input : [input];
        if (many) await r.options.handler(events, context(r.name, log));
        else for (const e of events) await r.options.handler(e, context(r.name, log));
        return;
      }
      default:
        throw new Error(`${r.name} is an HTTP function`);
    }
  }

  const keys = new FunctionKeys(options.functionKeys);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const key = url.searchParams.get('code') ?? (req.headers['x-functions-key'] as string | undefined);
    const method = (req.method ?? 'GET').toUpperCase();

    if (/^\/admin\/functions\/[^/]+\/keys/.test(url.pathname)) {
      if (!keyMatches(key, options.masterKey)) return send(req, res, { status: 401 });
      const body = (await readBody(req)).toString('utf8');
      return send(req, res, keys.handle(method, url.pathname, body) ?? { status: 404 });
    }
    const admin = /^\/admin\/(functions|eventhubs)\/([^/]+)\/?$/.exec(url.pathname);
    if (admin && method === 'POST') {
      if (!keyMatches(key, options.masterKey)) return send(req, res, { status: 401 });
      const body = (await readBody(req)).toString('utf8');
      const parsed = body ? JSON.parse(body) : {};
      if (admin[1] === 'functions') {
        const r = byName.get(admin[2].toLowerCase());
        if (!r || r.trigger === 'http')
          return send(req, res, {
            status: 404,
            jsonBody: { error: 'NotFound', reason: `no non-HTTP function ${admin[2]}` },
          });
        await invokeNonHttp(r, parsed.input);
        return send(req, res, { status: 202 });
      }
      const targets = options.registrations.filter(
        (r) => r.trigger === 'eventHub' && r.options.eventHubName.toLowerCase() === admin[2].toLowerCase(),
      );
      if (targets.length === 0)
        return send(req, res, {
          status: 404,
          jsonBody: { error: 'NotFound', reason: `no function listens to event hub ${admin[2]}` },
        });
      for (const r of targets) await invokeNonHttp(r, parsed);
      return send(req, res, { status: 202 });
    }

    if (!url.pathname.startsWith('/api/')) return send(req, res, { status: 404 });
    const path = url.pathname.slice('/api'.length);
    for (const { r, match } of httpRoutes) {
      if (r.trigger !== 'http') continue;
      const m = match(path);
      if (!m) continue;
      const methods = (r.options.methods ?? ['GET', 'POST']).map((x) => x.toUpperCase());
      if (!methods.includes(method)) continue;
      const level = r.options.authLevel ?? 'function';
      if (level === 'function' && !keyMatches(key, options.functionKey, options.masterKey, ...keys.of(r.name)))
        return send(req, res, { status: 401 });
      if (level === 'admin' && !keyMatches(key, options.masterKey)) return send(req, res, { status: 401 });
      // As in Azure with HTTP streaming on: the body reaches the handler as a stream. Client-principal headers are
      // dropped, as App Service Authentication drops them, so only an authenticated platform could set them.
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined && !/^x-ms-client-principal/i.test(k)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      const hasBody = method !== 'GET' && method !== 'HEAD';
      const nativeRequest = new Request(url.toString(), {
        method,
        headers,
        ...(hasBody ? { body: bodyStream(req), duplex: 'half' } : {}),
      } as RequestInit);
      // `nativeRequest` is how @azure/functions itself builds a streamed request (createStreamRequest); it is not in the public init type.
      const request = new HttpRequest({ nativeRequest, params: m.params } as never);
      return send(req, res, await r.options.handler(request, context(r.name, log)));
    }
    return send(req, res, { status: 404 });
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`host: ${req.method} ${req.url} failed: ${(err as Error)?.stack ?? String(err)}`);
      if (!res.headersSent) res.writeHead(500, req.complete ? {} : { connection: 'close' }).end();
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(options.port, '127.0.0.1', resolve));

  const timers =
    options.runTimers === false
      ? []
      : options.registrations.flatMap((r) => {
          if (r.trigger !== 'timer') return [];
          const run = () =>
            invokeNonHttp(r, undefined).catch((err: unknown) => log(`[${r.name}] failed: ${String(err)}`));
          if (r.options.runOnStartup) void run();
          // NCRONTAB has six fields, seconds first; croner reads six-field patterns the same way.
          return [new Cron(r.options.schedule, { protect: true }, run)];
        });

  // Loaded only when some function needs it: the Storage SDK is not part of every app's cold start.
  const queueRegistrations =
    options.driveQueues === false ? [] : options.registrations.filter((r) => r.trigger === 'storageQueue');
  const { startQueueDriver } = queueRegistrations.length
    ? await import('./queue-driver')
    : { startQueueDriver: undefined };
  const queues = queueRegistrations.flatMap((r) => {
    if (r.trigger !== 'storageQueue' || !startQueueDriver) return [];
    const connectionString = options.env[r.options.connection ?? 'AzureWebJobsStorage'];
    if (!connectionString) {
      log(`[${r.name}] not driven: app setting ${r.options.connection ?? 'AzureWebJobsStorage'} is not set`);
      return [];
    }
    return [
      startQueueDriver({
        connectionString,
        queueName: r.options.queueName,
        functionName: r.name,
        handler: r.options.handler,
        log,
        batchSize: options.queue?.batchSize ?? 8,
        maxDequeueCount: options.queue?.maxDequeueCount ?? 5,
        retryDelaySeconds: options.queue?.retryDelaySeconds ?? 30,
        visibilityTimeoutSeconds: options.queue?.visibilityTimeoutSeconds,
      }),
    ];
  });

  const port = (server.address() as AddressInfo).port;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      timers.forEach((t) => t.stop());
      await Promise.all(queues.map((q) => q.stop()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
