/**
 * The `callstate` command: one function per command, flags parsed strictly
 * (commands/args.ts), exit codes in EXIT.
 *
 *   callstate call <url> <method> [params]   one call from the shell
 *   callstate notify <url> <method> [params] one notification
 *   callstate serve <module>                 serve a module's methods
 *   callstate inspect [--demo]               the live inspection page
 *   callstate demo                           the demo scenario
 */
import { createRequire } from 'node:module';
import { describeThrown, EXIT, hostFlag, integerFlag, out, parse, printable, untilStopped, UsageError } from './commands/args.js';
import { CALL_USAGE, NOTIFY_USAGE, runCall } from './commands/call.js';
import { runServe, SERVE_USAGE } from './commands/serve.js';
import { runDemo } from './demo.js';

/** Port of `callstate inspect` when --port is not given. */
export const DEFAULT_INSPECT_PORT = 7070;

const USAGE = `usage: callstate <command> [options]   (callstate <command> --help for its options)

commands:
  call <url> <method> [params]     call a method and print its result as JSON
  notify <url> <method> [params]   send a notification
  serve <module>                   serve the methods an ES module exports
  inspect [--port N] [--host H]    serve a live page (default http://127.0.0.1:${DEFAULT_INSPECT_PORT}/)
                                   showing the calls of applications that stream to
                                   it (serve --inspect, inspectTo); --demo adds
                                   in-process demo traffic; Ctrl-C stops it
  demo [--calls N] [--max-delay MS]
                                   start an embedded echo server and replay the
                                   concurrent-calls scenario, printing each call's
                                   lifecycle; exits 0 when every check passes

options:
  -h, --help      show this help
  -v, --version   print the version

exit codes: 0 done; 1 the server answered with an error; 2 bad command line;
3 a call timed out; 4 anything else (could not connect, port in use, ...)`;

const INSPECT_USAGE = `usage: callstate inspect [options]

Serves the live inspection page. Applications stream their calls to it with
\`callstate serve <module> --inspect URL\`, or inspectTo(URL) in their code.

options:
  --port N     port of the page (default ${DEFAULT_INSPECT_PORT}; 0 picks a free one)
  --host H     interface to listen on (default 127.0.0.1; 0.0.0.0 or :: for every
               interface, then the URL printed is loopback's)
  --demo       also run an in-process client and server with demo traffic
  --json       print {"url":...} instead of the line
  -h, --help   show this help`;

const DEMO_USAGE = `usage: callstate demo [options]

options:
  --calls N        concurrent echo calls (default 20)
  --max-delay MS   largest random server delay (default 200)
  -h, --help       show this help`;

async function inspect(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { port: { type: 'string' }, host: { type: 'string' }, demo: { type: 'boolean' }, json: { type: 'boolean' } },
    { min: 0, max: 0 },
  );
  if (values.help) {
    out(INSPECT_USAGE);
    return EXIT.ok;
  }
  const host = hostFlag(values.host);
  const options = {
    port: integerFlag(values.port, 'port', 0, 65_535) ?? DEFAULT_INSPECT_PORT,
    ...(host === undefined ? {} : { host }),
  };
  const page = values.demo
    ? await (await import('./inspect/server.js')).startInspectPage(options)
    : await (await import('./inspect/hub.js')).startPageServer(options);
  out(values.json ? JSON.stringify({ url: page.url }) : `callstate inspect: ${page.url} (Ctrl-C to stop)`);
  await untilStopped();
  await page.close();
  return EXIT.ok;
}

async function demo(args: string[]): Promise<number> {
  const { values } = parse(args, { calls: { type: 'string' }, 'max-delay': { type: 'string' } }, { min: 0, max: 0 });
  if (values.help) {
    out(DEMO_USAGE);
    return EXIT.ok;
  }
  const calls = integerFlag(values.calls, 'calls', 1, 100_000);
  const maxDelay = integerFlag(values['max-delay'], 'max-delay', 1, 3_600_000);
  const summary = await runDemo({ ...(calls === undefined ? {} : { calls }), ...(maxDelay === undefined ? {} : { maxDelay }) });
  return summary.ok ? EXIT.ok : EXIT.failure;
}

/** Leaves quietly when stdout's reader is gone (`callstate demo | head`). */
function exitOnBrokenPipe(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(EXIT.ok);
    process.stderr.write(`callstate: cannot write to stdout: ${error.message}\n`);
    process.exit(EXIT.failure);
  });
}

async function dispatch(command: string | undefined, rest: string[]): Promise<number> {
  switch (command) {
    case 'call':
      return runCall(rest, false);
    case 'notify':
      return runCall(rest, true);
    case 'serve':
      return runServe(rest);
    case 'inspect':
      return inspect(rest);
    case 'demo':
      return demo(rest);
    case '-v':
    case '--version': {
      // By the package's own name (its exports give ./package.json): the CLI runs from dist/bundle/, not beside its source.
      const pkg = createRequire(import.meta.url)('callstate/package.json') as { version: string };
      out(pkg.version);
      return EXIT.ok;
    }
    case '-h':
    case '--help':
      out(USAGE);
      return EXIT.ok;
    case undefined:
      process.stderr.write(`${USAGE}\n`);
      return EXIT.usage;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

const USAGES: Record<string, string> = {
  call: CALL_USAGE,
  notify: NOTIFY_USAGE,
  serve: SERVE_USAGE,
  inspect: INSPECT_USAGE,
  demo: DEMO_USAGE,
};

/** Runs the command line `args`; resolves with the exit code. Errors are reported in one line, never as a stack. */
export async function main(args: string[]): Promise<number> {
  exitOnBrokenPipe();
  const [command, ...rest] = args;
  try {
    return await dispatch(command, rest);
  } catch (error) {
    // Whatever reached here may be a module's (a getter of its methods object that throws) or a server's words (a
    // nats-server's error): one line, its control characters escaped, whatever was thrown.
    const message = printable(describeThrown(error));
    const known = command !== undefined && Object.hasOwn(USAGES, command);
    const prefix = known ? `callstate ${command}` : 'callstate';
    if (error instanceof UsageError) {
      process.stderr.write(`${prefix}: ${message} (see ${prefix} --help)\n`);
      return EXIT.usage;
    }
    process.stderr.write(`${prefix}: ${message}\n`);
    return EXIT.failure;
  }
}
