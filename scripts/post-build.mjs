// Makes the built CLI executable after `tsc`, so `npx cairn` works straight after `npm ci`.
import { chmodSync, existsSync } from 'node:fs';

const cli = new URL('../dist/bin/cairn.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
