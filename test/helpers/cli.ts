/** Run the built `cairn` CLI as a user would: a child process, its exit code and both streams. */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/bin/cairn.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cairn(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    encoding: 'utf8',
    input: options.input ?? '',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same, without blocking the event loop (for tests that also serve HTTP in this process). */
export function cairnAsync(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, NO_COLOR: '1', ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * `cairn serve ARGS` as a child process: its combined output as it grows, the webhook endpoint it
 * printed, and a stop that interrupts it as Ctrl-C does and waits for it to exit.
 */
export async function startServe(args: string[], env: NodeJS.ProcessEnv): Promise<{ url: string; output: () => string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const stop = (): Promise<void> => {
    child.kill('SIGINT');
    return new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('close', () => r())));
  };
  try {
    const url = await until('the endpoint', async () => /POST (http:\/\/127\.0\.0\.1:\d+)\/hooks\//.exec(output)?.[1]);
    return { url, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** No JavaScript stack trace in what a user sees. */
export const STACK_TRACE = /\n\s+at .+\(.+:\d+:\d+\)|node:internal/;

/** Poll `fn` every 100 ms until it returns a value, or fail naming `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
