/**
 * The one HTTP request of Git's smart protocol, over node:http and node:https with WHATWG URLs
 * (isomorphic-git's Node client, used before, parsed every URL with the deprecated `url.parse()`,
 * which Node 22 and later warn about on the function's log, a line that is not JSON). Redirects
 * are not followed here (git-source.ts follows them, keeping credentials on their origin), and no
 * compression is asked for, so the body is the bytes the server sent.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SmartHttpRequest, SmartHttpResponse } from './git-fetch.js';

export async function gitHttpRequest(req: SmartHttpRequest & { signal?: AbortSignal }): Promise<SmartHttpResponse> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`cannot fetch a ${url.protocol} URL over HTTP`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const method = (req.method ?? 'GET').toUpperCase();
  return new Promise<SmartHttpResponse>((resolve, reject) => {
    const request = send(url, { method, headers: req.headers ?? {}, ...(req.signal ? { signal: req.signal } : {}) }, (res) => {
      resolve({
        statusCode: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        headers: flatten(res.headers),
        body: res[Symbol.asyncIterator]() as AsyncIterableIterator<Uint8Array>,
      });
    });
    request.on('error', reject);
    void (async () => {
      try {
        for await (const chunk of req.body ?? []) {
          if (!request.write(chunk)) await new Promise((r) => request.once('drain', r));
        }
        request.end();
      } catch (error) {
        request.destroy(error as Error);
      }
    })();
  });
}

/** Each header as one string. */
function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
