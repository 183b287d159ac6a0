/**
 * The embedded runtime's HTTP endpoint: `POST /hooks/NAME` (the same webhook intake as the Lambda
 * function), `GET /healthz` and `GET /status`. It survives any request: every path runs inside
 * error handling, slow senders are cut off, connections and bodies are capped (so memory stays
 * bounded: at most HTTP_FRONT_LIMITS.maxConnections bodies of maxBodyBytes at once), and a 500 says
 * only that something failed inside Cairn, the detail going to the log.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DEFAULT_MAX_BODY_BYTES } from '../core/environment.js';
import type { WebhookRequest, WebhookResponse } from '../webhooks/intake.js';

/**
 * The bounds every connection lives within; options may lower or raise each. Idle keep-alive
 * connections close after Node's own 5 s.
 */
export const HTTP_FRONT_LIMITS = {
  /** Request line and headers must arrive within this (Node's default is 60 s). */
  headersTimeoutMs: 10_000,
  /** The whole request, body included, must arrive within this (Node's default is 300 s). */
  requestTimeoutMs: 30_000,
  /** Open connections at most; further ones are closed at once. With 1 MiB bodies: 64 MiB of bodies at most. */
  maxConnections: 64,
} as const;

export interface HttpFrontOptions {
  host: string;
  port: number;
  maxBodyBytes?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  maxConnections?: number;
  webhook(request: WebhookRequest): Promise<WebhookResponse>;
  status(): Promise<unknown>;
  /** A request the front refused itself (bad request line, no route, wrong method, body too large, too slow). */
  onRejected?(statusCode: number): void;
  /** A defect inside Cairn while answering: the detail belongs in the log, never in the response. */
  onError?(error: unknown): void;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}

/** The body, or undefined once it grows past `limit` (the rest is not read). Sized up front when declared. */
async function readBody(req: IncomingMessage, limit: number, declared: number): Promise<Buffer | undefined> {
  const body = Buffer.allocUnsafe(Math.min(declared || 16 * 1024, limit));
  let chunks: Buffer[] | undefined;
  let size = 0;
  for await (const chunk of req) {
    const c = chunk as Buffer;
    if (size + c.length > limit) return undefined;
    if (!chunks && size + c.length <= body.length) c.copy(body, size);
    else (chunks ??= [body.subarray(0, size)]).push(c);
    size += c.length;
  }
  return chunks ? Buffer.concat(chunks, size) : body.subarray(0, size);
}

/** The request's path, or undefined for a request target that is not a URL path (e.g. `http://[/x`). */
function pathOf(raw: string | undefined): string | undefined {
  try {
    return new URL(raw ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

export async function startHttpFront(options: HttpFrontOptions): Promise<{ server: Server; url: string }> {
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const rejected = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    options.onRejected?.(status);
    send(res, status, body, headers);
  };
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = pathOf(req.url);
    if (path === undefined) return rejected(res, 400, { error: 'the request target is not a URL path; webhooks go to POST /hooks/SOURCE' }, { connection: 'close' });
    if (path === '/healthz') return req.method === 'GET' ? send(res, 200, { ok: true }) : rejected(res, 405, { error: 'use GET' });
    if (path === '/status') return req.method === 'GET' ? send(res, 200, await options.status()) : rejected(res, 405, { error: 'use GET' });
    if (!path.startsWith('/hooks/')) return rejected(res, 404, { error: `no route ${path.slice(0, 200)}; webhooks go to POST /hooks/SOURCE` });
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = { queued: false, error: `body over the ${limit}-byte limit` };
    if (!(declared <= limit)) return rejected(res, 413, tooLarge, { connection: 'close' });
    const body = req.method === 'POST' ? await readBody(req, limit, declared) : Buffer.alloc(0);
    if (!body) return rejected(res, 413, tooLarge, { connection: 'close' });
    const answer = await options.webhook({ method: req.method ?? 'GET', path, headers: req.headers, body });
    send(res, answer.statusCode, answer.body, answer.headers);
  };
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs ?? HTTP_FRONT_LIMITS.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs ?? HTTP_FRONT_LIMITS.requestTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would let them overrun that much).
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => {
      route(req, res).catch((error: unknown) => {
        try {
          options.onError?.(error);
        } catch {
          // The log failing must not take the endpoint with it.
        }
        if (!res.headersSent) send(res, 500, { error: 'internal error in Cairn; the serve log has the detail' }, { connection: 'close' });
        else res.end();
      });
    },
  );
  server.maxConnections = options.maxConnections ?? HTTP_FRONT_LIMITS.maxConnections;
  // Malformed requests and timeouts: answer when the socket still can, count, never throw.
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    if (error.code !== 'ECONNRESET') options.onRejected?.(status);
    if (socket.writable && !socket.writableEnded) socket.end(`HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${address.port}` };
}
