/**
 * `cairn sim ...`: act on the embedded account as someone outside Cairn would: drift a resource,
 * delete one, update a stack by hand, inject failures; or serve it as an AWS-compatible
 * CloudFormation endpoint (`cairn sim endpoint`) for `--target aws`.
 */
import type { EmbeddedAccount } from '../../adapters/embedded-account/index.js';
import { parse, UsageError } from '../args.js';
import { cairnHome, defaultRegion } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { style } from '../style.js';

const HELP = `Usage: cairn sim <action> [arguments] [--region R] [--port N]

Changes the embedded account (in $CAIRN_HOME, default the per-user state directory) the way a person or another
tool would, so you can watch Cairn notice and respond. A running \`cairn serve\` sees it at once.

Actions:
  drift STACK RESOURCE PROPERTY=VALUE   change a resource's property behind CloudFormation's back
                                        (PROPERTY is a path such as VersioningConfiguration.Status;
                                        VALUE is JSON when it parses as JSON, else a string)
  delete-resource STACK RESOURCE        delete a resource behind CloudFormation's back
  update STACK PARAM=VALUE ...          update a stack's parameters directly, as from the console
  fail TYPE [create|update|delete]      make resources of a type fail from now on (e.g. AWS::SQS::Queue)
  throttle N                            allow N CloudFormation calls per second (0: no throttle)
  reset                                 remove every injected failure and throttle
  endpoint [--port N]                   serve the account as an AWS CloudFormation endpoint on
                                        127.0.0.1 (default a free port) until Ctrl-C, and print the
                                        AWS_ENDPOINT_URL=... to export for \`--target aws\`. Any
                                        static credentials work: signatures are not checked
`;

function assignment(text: string, what: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`cairn sim: expected ${what}=VALUE, got "${text}"`);
  const raw = text.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return [text.slice(0, eq), value];
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse('sim', argv, { region: { type: 'string' }, port: { type: 'string' } }, 20);
  const [action, ...args] = positionals;
  if (values.help || !action) {
    process.stdout.write(HELP);
    return action || values.help ? EXIT.ok : EXIT.error;
  }
  const { EmbeddedAccount } = await import('../../adapters/embedded-account/index.js');
  const region = defaultRegion(values.region);
  if (action === 'endpoint') return serveEndpoint(new EmbeddedAccount({ home: cairnHome(), region, autoAdvance: true }), values.port);
  const account = new EmbeddedAccount({ home: cairnHome(), region });
  const need = (n: number, usage: string): void => {
    if (args.length < n) throw new UsageError(`cairn sim ${action}: expected ${usage}. Run 'cairn sim --help'.`);
  };
  const existing = async (stackName: string): Promise<void> => {
    if (!(await account.gateway(region).describeStack(stackName))) {
      throw new UsageError(`cairn sim ${action}: there is no stack "${stackName}" in the embedded account (${region}, ${cairnHome()}); see \`cairn status\``);
    }
  };
  try {
    switch (action) {
      case 'drift': {
        need(3, 'STACK RESOURCE PROPERTY=VALUE');
        const [stackName, logicalId, assign] = args as [string, string, string];
        await existing(stackName);
        const [path, value] = assignment(assign, 'PROPERTY');
        const { detectable } = account.injectDrift({ region, stackName, logicalId, path, value });
        process.stdout.write(`${style.yellow('drifted')} ${stackName}/${logicalId}: ${path} = ${JSON.stringify(value)}\n`);
        if (!detectable) process.stdout.write(`  note: the template does not set ${path}, so drift detection ignores it (as CloudFormation does)\n`);
        process.stdout.write(`  Cairn finds it on its next sweep, or now with \`cairn drift\`.\n`);
        return EXIT.ok;
      }
      case 'delete-resource': {
        need(2, 'STACK RESOURCE');
        const [stackName, logicalId] = args as [string, string];
        await existing(stackName);
        account.deleteResourceOutsideCairn({ region, stackName, logicalId });
        process.stdout.write(`${style.yellow('deleted')} ${stackName}/${logicalId} behind CloudFormation's back\n`);
        return EXIT.ok;
      }
      case 'update': {
        need(2, 'STACK PARAM=VALUE ...');
        const [stackName, ...assigns] = args as [string, ...string[]];
        await existing(stackName);
        const parameters = Object.fromEntries(assigns.map((a) => assignment(a, 'PARAM')).map(([k, v]) => [k, String(v)]));
        account.updateStackOutsideCairn({ region, stackName, parameters });
        process.stdout.write(`${style.yellow('updated')} ${stackName} outside Cairn: ${Object.entries(parameters).map(([k, v]) => `${k}=${v}`).join(', ')}\n`);
        return EXIT.ok;
      }
      case 'fail': {
        need(1, 'TYPE [create|update|delete]');
        const [type, ...ops] = args as [string, ...string[]];
        const on = (ops.length ? ops : ['create', 'update']) as ('create' | 'update' | 'delete')[];
        for (const op of on) if (!['create', 'update', 'delete'].includes(op)) throw new UsageError(`cairn sim fail: "${op}" is not one of create, update, delete`);
        account.faults.failResourceType(type, on);
        process.stdout.write(`${style.yellow('failing')} ${type} on ${on.join(', ')} from now on (\`cairn sim reset\` to stop)\n`);
        return EXIT.ok;
      }
      case 'throttle': {
        need(1, 'N');
        const n = Number(args[0]);
        if (!Number.isFinite(n) || n < 0) throw new UsageError(`cairn sim throttle: "${args[0]}" is not a number of calls per second`);
        account.faults.set({ throttlePerSecond: n === 0 ? null : n });
        process.stdout.write(n === 0 ? 'throttle removed\n' : `${style.yellow('throttling')} CloudFormation calls to ${n} per second\n`);
        return EXIT.ok;
      }
      case 'reset':
        account.faults.reset();
        process.stdout.write('every injected failure and throttle removed\n');
        return EXIT.ok;
      default:
        throw new UsageError(`cairn sim: unknown action "${action}"; actions: drift, delete-resource, update, fail, throttle, reset, endpoint. Run 'cairn sim --help'.`);
    }
  } finally {
    account.close();
  }
}

/** Serves `account` until SIGINT or SIGTERM; the first stdout line is the variable to export. */
async function serveEndpoint(account: EmbeddedAccount, portOption: string | undefined): Promise<number> {
  const port = portOption === undefined ? 0 : Number(portOption);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    account.close();
    throw new UsageError(`cairn sim endpoint: --port "${portOption}" is not a port number (0-65535)`);
  }
  const { startCloudFormationEndpoint } = await import('../../local/cloudformation-endpoint.js');
  let endpoint;
  try {
    endpoint = await startCloudFormationEndpoint({ account, port });
  } catch (error) {
    account.close();
    throw new UsageError(`cairn sim endpoint: cannot listen on 127.0.0.1:${port}: ${(error as Error).message}`);
  }
  process.stdout.write(
    `AWS_ENDPOINT_URL=${endpoint.url}\n` +
      `  the embedded account (${account.defaultRegion}, ${cairnHome()}) as CloudFormation (and S3 for large templates).\n` +
      `  export that, with any static credentials (signatures are not checked), then use --target aws:\n` +
      `    export AWS_ENDPOINT_URL=${endpoint.url} AWS_REGION=${account.defaultRegion} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n` +
      `  Ctrl-C stops it.\n`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await endpoint.close();
  account.close();
  return EXIT.ok;
}
