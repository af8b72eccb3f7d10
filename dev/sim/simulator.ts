/**
 * The DPS and IoT Hub simulator: one HTTPS listener on loopback that serves the DPS service API, the DPS device
 * API and every simulated IoT hub, told apart by the Host header as the real services are by DNS. It checks SAS
 * tokens like the services, enforces their quotas with 429 + Retry-After, and answers errors in their shapes. Beside
 * it, an MQTT listener (TLS) serves the DPS device API over MQTT (dps-mqtt.ts).
 */
import type { X509Certificate } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { dpsCode, hubCode } from '../faults/answers';
import { applyFault, retryAfterHeader } from '../faults/http';
import type { FaultInjector } from '../faults/injector';
import { simulatorCall } from '../faults/operations';
import { ADR_HOST, LocalAdr } from './adr';
import { handleAdr } from './adr-routes';
import { handleDeviceSide, type WebhookRetry } from './dps-device';
import { startDpsMqtt } from './dps-mqtt';
import { handleDpsService } from './dps-service';
import { handleHubJobs, type HubJob } from './hub-jobs';
import { type HubDevices, startHubMqtt } from './hub-mqtt';
import { handleHub } from './iothub';
import { startMqttFront } from './mqtt-front';
import { type QuotaOptions, simulatorQuotas } from './quotas';
import { parseSas, verifySas } from './sas';
import { emptyState, type HubData, loadState, saveState, type SimState } from './state';
import { apiVersionProblem, HttpError, recordExchange, sendDpsError, sendHubError, type WireExchange } from './wire';

export interface SimulatedHub {
  hostName: string;
  policyName: string;
  key: string;
  /** S1 units: the registry throttle is `registryOpsPerMinutePerUnit × units`. */
  units: number;
  /** The hub's verified CA certificates (PEM), for CA-signed X.509 devices; tests may change them at run time. */
  verifiedCas?: string[];
}

export interface SimulatorOptions {
  tls: { cert: string; key: string };
  host?: string;
  port?: number;
  /** The MQTT listener (TLS) of DPS's device API and every hub's device endpoint; 0 or absent: any free port. */
  mqttPort?: number;
  dps: { hostName: string; idScope: string; policyName: string; key: string };
  hubs: SimulatedHub[];
  quotas?: QuotaOptions;
  dpsBulkLimit?: number;
  pollAfterSeconds?: number;
  webhook?: { timeoutMs?: number; retry?: Partial<WebhookRetry> };
  /** Where the local ADR keeps its resources and CA keys (`.data/adr`); absent: a fresh temporary directory. */
  adrDir?: string;
  /** Where state is kept across restarts; absent = in memory only. */
  snapshotFile?: string;
  /**
   * The clock the quotas refill by (default `Date.now`). A test that must meet a 429 gives a clock it advances
   * itself, so whether a call is throttled never depends on how fast the machine runs.
   */
  clock?: () => number;
  log?: (line: string) => void;
  /** Every HTTP request and its answer, for the contract tests. */
  onExchange?: (exchange: WireExchange) => void;
  /** Faults on demand (dev/faults/): each HTTPS request may meet one before it is routed. Absent: none. */
  faults?: FaultInjector;
}

export interface RunningSimulator {
  port: number;
  mqttPort: number;
  state: SimState;
  /** The local Azure Device Registry served at management.azure.com. */
  adr: LocalAdr;
  /** Devices connected to the hubs over MQTT: telemetry received, connections, verified CAs, C2D (hub-mqtt.ts). */
  hubDevices: HubDevices;
  /** 429s answered so far, for benchmarks to report. */
  throttled: { dpsOperations: number; dpsRegistrations: number; hubRegistry: number };
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions): Promise<RunningSimulator> {
  const hubNames = options.hubs.map((h) => h.hostName);
  const state = emptyState(hubNames);
  if (options.snapshotFile && loadState(state, options.snapshotFile))
    options.log?.(`iot-sim: state restored from ${options.snapshotFile}`);
  const certificates = new Map<string, Map<string, X509Certificate>>();

  let saveTimer: NodeJS.Timeout | undefined;
  const changed = () => {
    if (!options.snapshotFile || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = undefined;
      saveState(state, options.snapshotFile as string);
    }, 500);
  };

  const { quotas, throttled, chargeDps, chargeRegistration, hubs, chargePoll } = simulatorQuotas(options);

  const hubJobs = new Map<string, Map<string, HubJob>>();
  const jobsOf = (host: string) =>
    hubJobs.get(host) ?? (hubJobs.set(host, new Map()), hubJobs.get(host) as Map<string, HubJob>);
  const serviceCtx = {
    state,
    linkedHubs: () => hubNames,
    bulkLimit: options.dpsBulkLimit ?? 10,
    bulkCounting: quotas.dpsBulkCounting,
    certificates,
    charge: chargeDps,
    changed,
  };
  const adr = new LocalAdr(options.adrDir ?? mkdtempSync(join(tmpdir(), 'adr-')));
  const deviceCtx = {
    chargePoll,
    state,
    adr,
    idScope: options.dps.idScope,
    linkedHubs: () => hubNames,
    certificates,
    chargeRegistration,
    changed,
    hub: (hostName: string) => state.hubs.get(hostName.toLowerCase()),
    pollAfterSeconds: options.pollAfterSeconds ?? 1,
    webhook: {
      timeoutMs: options.webhook?.timeoutMs ?? 5000,
      retry: { attempts: 10, firstDelayMs: 1000, incrementMs: 9000, ...options.webhook?.retry },
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse, host: string): Promise<boolean> {
    const url = new URL(req.url ?? '/', `https://${host}`);
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (host === ADR_HOST) return handleAdr(adr, req, res, url);
    const versionProblem = apiVersionProblem(url.searchParams.get('api-version'));
    if (versionProblem)
      throw new HttpError(
        400,
        host.endsWith('.azure-devices-provisioning.net') ? 400001 : 'InvalidProtocolVersion',
        versionProblem,
      );
    if (host === options.dps.hostName.toLowerCase()) {
      const token = parseSas(req.headers.authorization);
      if (token.skn !== options.dps.policyName)
        throw new HttpError(401, 401002, `Unknown shared access policy ${token.skn}.`);
      verifySas(token, options.dps.hostName, [options.dps.key]);
      return handleDpsService(serviceCtx, req, res, segments);
    }
    if (host.endsWith('.azure-devices-provisioning.net')) return handleDeviceSide(deviceCtx, req, res, segments);
    const hub = hubs.get(host);
    if (!hub) throw new HttpError(404, 'IotHubNotFound', `No IoT hub ${host}.`);
    try {
      const token = parseSas(req.headers.authorization);
      if (token.skn !== hub.config.policyName)
        throw new HttpError(401, 0, `Unknown shared access policy ${token.skn}.`);
      verifySas(token, hub.config.hostName, [hub.config.key]);
    } catch (err) {
      // IoT Hub names every refused credential IotHubUnauthorizedAccess (DPS's numeric codes are DPS's).
      if (err instanceof HttpError) throw new HttpError(401, 'IotHubUnauthorizedAccess', err.message);
      throw err;
    }
    const data = state.hubs.get(host) as HubData;
    if (await handleHubJobs({ data, jobs: jobsOf(host), changed, now: options.clock }, req, res, segments)) return true;
    return handleHub({ hostName: hub.config.hostName, data, charge: hub.charge, changed }, req, res, segments);
  }

  const server = https.createServer(
    { cert: options.tls.cert, key: options.tls.key, requestCert: true, rejectUnauthorized: false, keepAlive: true },
    (req, res) => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
      const isDps = host.endsWith('.azure-devices-provisioning.net');
      if (options.onExchange) recordExchange(req, res, host, options.onExchange);
      const fail = (err: HttpError) => (isDps ? sendDpsError(res, err) : sendHubError(res, err));
      const handle = () =>
        void route(req, res, host).then(
          (handled) => {
            if (!handled)
              fail(new HttpError(404, isDps ? 404000 : 'NotFound', `No route for ${req.method} ${req.url}`));
          },
          (err: unknown) => {
            const httpErr =
              err instanceof HttpError ? err : new HttpError(500, isDps ? 500000 : 'ServerError', String(err));
            if (httpErr.status === 500)
              options.log?.(`iot-sim: ${req.method} ${host}${req.url} failed: ${String(err)}`);
            if (!res.headersSent) fail(httpErr);
          },
        );
      if (!options.faults) return handle();
      const fault = options.faults.decide(simulatorCall(req, host, options.dps.hostName.toLowerCase()));
      applyFault(fault, req, res, handle, (f) =>
        fail(
          new HttpError(
            f.status,
            isDps ? dpsCode(f) : hubCode(f),
            'Injected by the local stack (fault plan).',
            retryAfterHeader(f),
          ),
        ),
      );
    },
  );
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  // One listener for DPS and the hubs, as one gateway host name reaches both locally (mqtt-front.ts).
  const front = await startMqttFront({ tls: options.tls, host: options.host, port: options.mqttPort });
  const mqtt = await startDpsMqtt(deviceCtx, { tls: options.tls, log: options.log, front });
  const hubDevices = startHubMqtt({
    hubs: options.hubs.map((h) => ({
      hostName: h.hostName,
      data: state.hubs.get(h.hostName.toLowerCase()) as HubData,
      verifiedCas: h.verifiedCas,
    })),
    front,
    changed,
    // Credential sync is immediate locally: every hub trusts ADR's current issuing CAs and no revoked one (adr.ts).
    extraTrust: (_hub, chain) => adr.hubTrusts(chain.map((c) => c.raw)),
    renew: (_hub, deviceId, presented, csr) =>
      presented[0]
        ? adr.renew(presented[0], csr, deviceId)
        : Promise.reject(new Error('No certificate was presented.')),
    log: options.log,
  });
  return {
    port: (server.address() as AddressInfo).port,
    mqttPort: mqtt.port,
    state,
    adr,
    hubDevices,
    throttled,
    close: async () => {
      clearTimeout(saveTimer);
      await hubDevices.close();
      await mqtt.close();
      await front.close();
      if (options.snapshotFile) saveState(state, options.snapshotFile);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
