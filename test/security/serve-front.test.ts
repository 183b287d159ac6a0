/**
 * Security: `cairn serve`'s HTTP endpoint survives any request. Raw sockets on 127.0.0.1 send a
 * request target that is not a URL, a bounded fuzz of malformed requests, slow headers and slow
 * bodies, more connections than the cap and bodies over the limit; the endpoint answers or closes
 * each, keeps serving, never shows internals in a 500, and counts what it refused instead of
 * printing it line by line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedAccount } from '../../lib/adapters/embedded-account/index.js';
import { startHttpFront, type HttpFrontOptions } from '../../lib/local/http-front.js';
import { LocalRuntime } from '../../lib/local/runtime.js';
import { MemorySink } from '../../lib/ports/events.js';
import type { IntakeLogEntry } from '../../lib/webhooks/intake.js';
import { MemoryRepo } from '../helpers/memory-source.js';
import { Random } from '../reliability/random.js';

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function front(over: Partial<HttpFrontOptions> = {}) {
  const rejected: number[] = [];
  const errors: unknown[] = [];
  const { server, url } = await startHttpFront({
    host: '127.0.0.1',
    port: 0,
    webhook: async () => ({ statusCode: 202, body: { queued: true }, headers: {} }),
    status: async () => ({ ok: true }),
    onRejected: (s) => rejected.push(s),
    onError: (e) => errors.push(e),
    ...over,
  });
  closers.push(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  const port = Number(new URL(url).port);
  return { url, port, rejected, errors, server };
}

/** Send raw bytes on a fresh connection; resolves with what came back when the server closes it (or after `waitMs`). */
function raw(port: number, data: string | Buffer, waitMs = 2_000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), waitMs);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => done(true));
    socket.on('error', () => undefined);
    socket.write(data);
  });
}

const healthy = async (url: string): Promise<boolean> => (await fetch(`${url}/healthz`)).status === 200;

describe('Security: the serve endpoint survives any request', () => {
  it('answers a request target that is not a URL with 400 and keeps serving', async () => {
    const f = await front();
    const r = await raw(f.port, 'GET http://[/hooks/x HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(r.text).toMatch(/^HTTP\/1\.1 400/);
    expect(await healthy(f.url)).toBe(true);
    expect(f.rejected).toContain(400);
  });

  it('survives a bounded fuzz of malformed requests', async () => {
    const f = await front();
    const rnd = new Random(16);
    const pieces = ['GET', 'POST', 'PUT', 'X', ' ', '/hooks/', 'http://[', '%', '%zz', '\u0000', '\r\n', 'HTTP/1.1', 'HTTP/9', 'content-length: ', '-1', '99999999999', 'transfer-encoding: chunked', 'zz\r\n', '\u00ff', '//', '?a=', '#'];
    const requests = Array.from({ length: 150 }, () => Array.from({ length: rnd.int(1, 12) }, () => rnd.pick(pieces)).join('') + '\r\n\r\n');
    const started = Date.now();
    for (let i = 0; i < requests.length; i += 25) await Promise.all(requests.slice(i, i + 25).map((r) => raw(f.port, r, 1_500)));
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await healthy(f.url)).toBe(true);
    expect(f.errors).toEqual([]);
  });

  it('closes a connection whose headers arrive too slowly', async () => {
    const f = await front({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const started = Date.now();
    const r = await raw(f.port, 'POST /hooks/x HTTP/1.1\r\nhost: x\r\n', 5_000);
    expect(r.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(f.rejected).toContain(408);
  });

  it('closes a connection whose body arrives too slowly', async () => {
    const f = await front({ requestTimeoutMs: 600, headersTimeoutMs: 300 });
    const started = Date.now();
    const r = await raw(f.port, 'POST /hooks/x HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{"a":', 5_000);
    expect(r.closed).toBe(true);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('caps open connections and serves again once they go', async () => {
    const f = await front({ maxConnections: 4 });
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const s = connect(f.port, '127.0.0.1');
      s.on('error', () => undefined);
      s.on('close', () => closed.push(true));
      sockets.push(s);
      await new Promise((r) => s.once('connect', r));
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(closed.length).toBeGreaterThanOrEqual(6);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await healthy(f.url)).toBe(true);
  });

  it('refuses bodies over the limit, declared or chunked, without reading them', async () => {
    const f = await front({ maxBodyBytes: 1024 });
    const declared = await raw(f.port, 'POST /hooks/x HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n\r\n');
    expect(declared.text).toMatch(/^HTTP\/1\.1 413/);
    const chunk = 'x'.repeat(800);
    const chunked = await raw(f.port, `POST /hooks/x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${(800).toString(16)}\r\n${chunk}\r\n${(800).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`);
    expect(chunked.text).toMatch(/^HTTP\/1\.1 413/);
    expect(f.rejected.filter((s) => s === 413)).toHaveLength(2);
  });

  it('answers a defect with a 500 that shows nothing of it, and logs the detail', async () => {
    const f = await front({ webhook: async () => Promise.reject(new Error('ENOENT /var/secret/path at Intake.handle')) });
    const res = await fetch(`${f.url}/hooks/x`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/ENOENT|secret|Intake/);
    expect(text).toContain('internal error in Cairn');
    expect(String(f.errors[0])).toContain('ENOENT');
  });
});

describe('Security: serve counts refused deliveries instead of printing each', () => {
  it('counts 401s in /status and summarises them in one line per interval', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cairn-front-'));
    const account = new EmbeddedAccount({ home });
    const sink = new MemorySink();
    const intake: IntakeLogEntry[] = [];
    const runtime = new LocalRuntime({
      sources: [{ name: 'platform', repo: new MemoryRepo({ 'cairn.yaml': 'version: 1\nsource: platform\nstacks: {}\n' }), provider: 'github', branch: 'main', location: 'memory://test', watch: false }],
      webhookSecret: 'a-webhook-secret',
      gateways: (r) => account.gateway(r),
      sink,
      port: 0,
      sweepEveryMs: 0,
      reconcileOnStart: false,
      rejectionSummaryMs: 300,
      onIntake: (e) => intake.push(e),
    });
    closers.push(() => rmSync(home, { recursive: true, force: true }));
    closers.push(() => account.close());
    closers.push(() => runtime.stop());
    const { url } = await runtime.start();
    const headers = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd1', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` };
    for (let i = 0; i < 20; i++) expect((await fetch(`${url}/hooks/platform`, { method: 'POST', headers, body: '{}' })).status).toBe(401);
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    const status = (await (await fetch(`${url}/status`)).json()) as { rejected: { total: number; byStatus: Record<string, number> } };
    expect(status.rejected).toEqual({ total: 21, byStatus: { 401: 20, 404: 1 } });
    expect(intake).toEqual([]);
    await new Promise((r) => setTimeout(r, 800));
    const lines = sink.events.filter((e) => e.type === 'log' && /refused/.test(String((e as { message?: string }).message)));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ message: 'refused 21 requests in the last 300 ms (20 × 401, 1 × 404); totals in GET /status' });
  });
});
