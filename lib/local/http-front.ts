/**
 * The embedded runtime's HTTP endpoint: `POST /hooks/NAME` (the same webhook intake as the Lambda
 * function), `GET /healthz` and `GET /status`. Bodies over the limit are refused with 413 from
 * their Content-Length, or as soon as they grow past it, without reading the rest.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_MAX_BODY_BYTES } from '../core/environment.js';
import type { WebhookRequest, WebhookResponse } from '../webhooks/intake.js';

export interface HttpFrontOptions {
  host: string;
  port: number;
  maxBodyBytes?: number;
  webhook(request: WebhookRequest): Promise<WebhookResponse>;
  status(): Promise<unknown>;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startHttpFront(options: HttpFrontOptions): Promise<{ server: Server; url: string }> {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = async (): Promise<void> => {
      if (path === '/healthz') return send(res, req.method === 'GET' ? 200 : 405, req.method === 'GET' ? { ok: true } : { error: 'use GET' });
      if (path === '/status') return req.method === 'GET' ? send(res, 200, await options.status()) : send(res, 405, { error: 'use GET' });
      if (!path.startsWith('/hooks/')) return send(res, 404, { error: `no route ${path}; webhooks go to POST /hooks/SOURCE` });
      const declared = Number(req.headers['content-length'] ?? 0);
      const tooLarge = { error: `body over the ${limit}-byte limit` };
      if (declared > limit) {
        res.setHeader('connection', 'close');
        return send(res, 413, { queued: false, ...tooLarge });
      }
      const body = req.method === 'POST' ? await readBody(req, limit) : Buffer.alloc(0);
      if (!body) {
        res.setHeader('connection', 'close');
        return send(res, 413, { queued: false, ...tooLarge });
      }
      const answer = await options.webhook({ method: req.method ?? 'GET', path, headers: req.headers, body });
      send(res, answer.statusCode, answer.body, answer.headers);
    };
    route().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: `internal error: ${error instanceof Error ? error.message : String(error)}` });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${address.port}` };
}
