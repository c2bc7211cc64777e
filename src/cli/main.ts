#!/usr/bin/env node
/** The `asyncinfer` command. Only this folder may end the process. */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseArgs } from 'node:util';
import { rootKeyInstructions } from '../auth/index.js';
import { loadConfig } from '../config/index.js';
import { isAppError } from '../errors.js';
import { createLogger, startServer } from '../main.js';
import { KEYS_HELP, MAIN_HELP, NOTIFICATIONS_HELP, SERVE_HELP } from './help.js';
import { keysCommand } from './keys-command.js';
import { notificationsCommand } from './notifications-command.js';
import { EXIT_USAGE } from './usage.js';


async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(rest[0] === 'serve' ? SERVE_HELP : rest[0] === 'notifications' ? NOTIFICATIONS_HELP : rest[0] === 'keys' ? KEYS_HELP : MAIN_HELP);
    return 0;
  }
  if (command === '--version') {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`asyncinfer ${pkg.version}\n`);
    return 0;
  }
  if (command === 'serve') return serve(rest);
  if (command === 'notifications') return notificationsCommand(rest);
  if (command === 'keys') return keysCommand(rest);
  process.stderr.write(`asyncinfer: unknown command "${command}". Run "asyncinfer --help" for the commands.\n`);
  return EXIT_USAGE;
}

async function serve(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 's3-port': { type: 'string' },
        'data-dir': { type: 'string' }, 'log-level': { type: 'string' }, role: { type: 'string' }, 'redis-url': { type: 'string' },
        'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`asyncinfer serve: ${(err as Error).message}. Run "asyncinfer serve --help" for the options.\n`);
    return EXIT_USAGE;
  }
  if (values.help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  let config;
  try {
    config = loadConfig({
      file: values.config,
      env: process.env,
      flags: {
        host: values.host,
        port: values.port === undefined ? undefined : Number(values.port),
        s3Port: values['s3-port'] === undefined ? undefined : Number(values['s3-port']),
        dataDir: values['data-dir'],
        logLevel: values['log-level'],
        role: values.role,
        redisUrl: values['redis-url'],
        tlsCert: values['tls-cert'],
        tlsKey: values['tls-key'],
      },
    });
  } catch (err) {
    process.stderr.write(`asyncinfer serve: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const logger = createLogger(config);
  keepRunningOnUnhandledRejections(logger);
  let server;
  try {
    server = await startServer(config, logger, { hostEnv: process.env });
  } catch (err) {
    if (isAppError(err)) process.stderr.write(`asyncinfer serve: ${err.message}\n`);
    else logger.fatal({ err }, 'could not start');
    return 1;
  }
  // The log line says it too, but as JSON; the person at the terminal gets it readable.
  if (server.madeRootKey) process.stderr.write(`\n${rootKeyInstructions(server.madeRootKey)}\n\n`);
  // SIGHUP: a renewed TLS certificate is served without a restart.
  process.on('SIGHUP', () => {
    try {
      server.reloadTls();
      logger.info('TLS certificate and key read again (SIGHUP)');
    } catch (err) {
      logger.error({ err }, 'could not read the TLS certificate and key again; still serving the previous ones');
    }
  });
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'shutting down: no new requests; finishing running invocations');
      process.on(signal, () => {
        logger.warn('second signal: exiting now');
        process.exit(1);
      });
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await server.stop();
  logger.info('stopped');
  return 0;
}

/**
 * A promise rejection nobody handled is a bug (a background task that lost its error), but it must
 * not end a server holding accepted work: Node's default would exit. It is logged, with a count
 * of how many so far, and the server goes on.
 */
function keepRunningOnUnhandledRejections(logger: Logger): void {
  let unhandledRejections = 0;
  process.on('unhandledRejection', (reason) => {
    unhandledRejections++;
    logger.error({ err: reason, unhandledRejections }, 'unhandled promise rejection: logged and counted; the server goes on');
  });
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`asyncinfer: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
