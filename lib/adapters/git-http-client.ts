/**
 * The one HTTP request of Git's smart protocol, over node:http and node:https with WHATWG URLs.
 * It replaces isomorphic-git's Node client, whose simple-get parses every URL with the deprecated
 * `url.parse()`: bundled into a Lambda function that code is no longer under node_modules, so Node
 * 22 and later print a DEP0169 warning, a line that is not JSON, on the function's log. Redirects
 * are not followed here (git-source.ts follows them, keeping credentials on their origin), and no
 * compression is asked for, so the body is the bytes the server sent.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { GitHttpRequest, GitHttpResponse } from 'isomorphic-git';

export async function gitHttpRequest(req: GitHttpRequest & { signal?: AbortSignal }): Promise<GitHttpResponse> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`cannot fetch a ${url.protocol} URL over HTTP`);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const method = (req.method ?? 'GET').toUpperCase();
  return new Promise<GitHttpResponse>((resolve, reject) => {
    const request = send(url, { method, headers: req.headers ?? {}, ...(req.signal ? { signal: req.signal } : {}) }, (res) => {
      resolve({
        url: req.url,
        method,
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

/** isomorphic-git reads each header as one string. */
function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}
