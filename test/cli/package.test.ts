/** The packed package, as `npm install -g` of the tarball gets it: the CLI, its libraries and the example, nothing else. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('Package: cairn-gitops tarball', () => {
  it('ships the cairn bin, the built libraries and the example that `cairn init` copies, and no tests or sources', () => {
    const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' })) as { files: { path: string }[] }[];
    const files = report!.files.map((f) => f.path);
    for (const needed of ['dist/bin/cairn.js', 'dist/lib/cli/commands/init.js', 'dist/lib/cli/context.js', 'examples/platform/cairn.yaml', 'examples/platform/stacks/app.yaml', 'package.json', 'README.md']) {
      expect(files).toContain(needed);
    }
    // The CLI is a bundle split into chunks, with the resource schemas beside the chunk that reads them.
    expect(files).toContain('dist/bin/cli/resource-schemas.br');
    expect(files.filter((f) => /^dist\/bin\/cli\/chunk-[A-Z0-9]+\.js$/.test(f)).length).toBeGreaterThan(3);
    expect(files.filter((f) => /^(test|lib|bin|bench|node_modules)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const pkg = JSON.parse(execFileSync('node', ['-p', 'JSON.stringify(require("./package.json"))'], { cwd: ROOT, encoding: 'utf8' })) as { bin: Record<string, string> };
    expect(pkg.bin).toEqual({ cairn: 'dist/bin/cairn.js' });
  });
});
