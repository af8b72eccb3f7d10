/** The baseline: a bare Node HTTP server answering fixed JSON (what a webhook cannot beat). */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

const answer = JSON.stringify({ iotHubHostName: 'hub-eu-1.azure-devices.net' });
const server = http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
    console.log(`port=${(server.address() as AddressInfo).port}`),
  );
