// Makes the built CLI executable after `tsc`, so `npx cairn` works straight after `npm ci`, and
// puts the packaged resource schemas beside the built module that reads them.
import { chmodSync, copyFileSync, existsSync } from 'node:fs';

const cli = new URL('../dist/bin/cairn.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);

copyFileSync(new URL('../lib/adapters/resource-schemas.br', import.meta.url), new URL('../dist/lib/adapters/resource-schemas.br', import.meta.url));
