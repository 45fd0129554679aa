/**
 * The `gem-flow` command line: its commands and options (commander), and `runCli`, which runs one command line
 * against injected streams and returns the exit code instead of exiting, so the whole CLI runs in-process in
 * tests. Commander's own errors (an unknown option, a missing argument, a bad choice) exit with the usage code.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { RUNTIME_STATUSES } from '../shared/api/schemas.js';
import { JOB_TYPES } from '../shared/jobTypes.js';
import { APP_VERSION } from '../shared/version.js';
import { UPLOAD_OPTIONS } from '../shared/workflow/uploadOptions.js';
import { cancelCommand } from './commands/cancel.js';
import { listCommand } from './commands/list.js';
import { matchCommand } from './commands/match.js';
import { outboxCommand } from './commands/outbox.js';
import { statusCommand } from './commands/status.js';
import { validateCommand } from './commands/validate.js';
import { type CliIo, type CommandContext, createContext, type GlobalOptions } from './context.js';
import { asCliError, EXIT, type ExitCode } from './errors.js';
import { Output, outputModeFor } from './output.js';

const positiveSeconds = (value: string): number => {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
    throw new InvalidArgumentError('must be a number of seconds between 0 and 3600.');
  }
  return seconds;
};

const wholeNumber =
  (low: number, high: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < low || n > high)
      throw new InvalidArgumentError(`must be a whole number from ${low} to ${high}.`);
    return n;
  };

const runtimeStatusList = (value: string): string => {
  const unknown = value.split(',').filter((s) => !(RUNTIME_STATUSES as readonly string[]).includes(s));
  if (unknown.length > 0)
    throw new InvalidArgumentError(`must be a comma-separated list of ${RUNTIME_STATUSES.join(', ')}.`);
  return value;
};

const jobTypeOption = () => new Option('--job-type <type>', 'GEM job type').choices(JOB_TYPES);

type Handler = (context: CommandContext, command: Command) => Promise<ExitCode>;

type Run = (handler: Handler, command: Command) => Promise<void>;

/** The program and its global options (target and output), which every command accepts before or after it. */
function programWithGlobalOptions(io: CliIo): Command {
  return new Command('gem-flow')
    .description('Run TomTom Orbis GEM matches through gem-flow: locally (npm start) or on Azure.')
    .version(APP_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(gem-flow --help lists the commands and options)')
    .option('--json', 'machine-readable output: one JSON document, or JSON lines while following a match')
    .option(
      '--stack <file>',
      'the local stack.json (default: GEMFLOW_STACK, else .local/stack.json of this repository)',
    )
    .option('--azd', 'target the Azure deployment of the azd environment in this folder')
    .option('--azd-env <name>', 'the azd environment to read (default: the selected one)')
    .option('--app-url <url>', 'target the app at this URL on Azure (default with --azd: SERVICE_API_URI)')
    .option(
      '--key <key>',
      'the function key (default: GEMFLOW_FUNCTION_KEY, stack.json, or az functionapp keys list)',
    )
    .option(
      '--storage-account <name>',
      'the app storage account on Azure (default with --azd: AZURE_STORAGE_ACCOUNT_NAME)',
    )
    .option('--inbox-container <name>', 'the inbox container on Azure (default: INBOX_CONTAINER, else inbox)')
    .option(
      '--outbox-container <name>',
      'the outbox container on Azure (default: OUTBOX_CONTAINER, else outbox)',
    );
}

function addMatchCommand(program: Command, run: Run): void {
  const match = program
    .command('match')
    .description(
      'upload FILE to the inbox, which starts its match; with --wait, follow it and save the outputs',
    )
    .argument('<file>', 'the road file to match')
    .option('-w, --wait', 'follow the match to its end, print the summary and download the outputs')
    .option('--name <blob>', 'blob name in the inbox (default: the file name)');
  for (const option of UPLOAD_OPTIONS) {
    if (option.field === 'jobType') match.addOption(jobTypeOption());
    else
      match.option(
        `--${option.flag} <value>`,
        `per-file option, sent as blob metadata "${option.metadataKey}"`,
      );
  }
  match
    .option('-o, --output <dir>', 'where --wait saves the outputs (default: ./gem-flow-output)')
    .option('--no-download', 'with --wait, do not save the outputs')
    .option(
      '--start-timeout <seconds>',
      'without --wait, how long to wait for the match to start (default 60)',
      positiveSeconds,
    )
    .option('--interval <seconds>', 'seconds between status polls (default 2)', positiveSeconds)
    .action((_file, _options, command: Command) =>
      run((context) => matchCommand(command.args[0]!, command.opts(), context), command),
    );
}

function addStatusCommand(program: Command, run: Run): void {
  program
    .command('status')
    .description('the status of match ID (default: the newest match); --watch follows it to its end')
    .argument('[id]', 'match id')
    .option('--watch', 'follow the match with a progress bar until it ends')
    .option('--download', 'with --watch, save the outputs when it ends')
    .option('-o, --output <dir>', 'where --download saves the outputs (default: ./gem-flow-output)')
    .option('--interval <seconds>', 'seconds between status polls (default 2)', positiveSeconds)
    .action((id: string | undefined, _options, command: Command) =>
      run((context) => statusCommand(id, command.opts(), context), command),
    );
}

function addListingCommands(program: Command, run: Run): void {
  program
    .command('list')
    .description('matches, newest first, one page (--all: every page)')
    .option('--status <list>', 'runtime statuses, comma-separated (e.g. Running,Pending)', runtimeStatusList)
    .option('--top <n>', 'matches per page (1-100, default 50)', wholeNumber(1, 100))
    .option('--all', 'follow continuation tokens to the last page')
    .action((_options, command: Command) => run((context) => listCommand(command.opts(), context), command));

  program
    .command('outbox')
    .description(
      'list the outbox, print a JSON document, save a blob, or follow --latest INPUT to its newest run',
    )
    .argument(
      '[name]',
      'a blob in the outbox; with --latest, the document: results, summary, error or validationReport',
    )
    .option('--latest <input>', 'the newest run of this input name (its latest.json)')
    .option('--pdg', 'with --latest, the input is a file in PDG storage')
    .option('--out <file>', 'save the blob to this file')
    .option('-o, --output <dir>', 'where blobs are saved without --out (default: ./gem-flow-output)')
    .option('--prefix <prefix>', 'list only blobs under this prefix')
    .action((name: string | undefined, _options, command: Command) =>
      run((context) => outboxCommand(name, command.opts(), context), command),
    );
}

function addCancelAndValidate(program: Command, run: Run): void {
  program
    .command('cancel')
    .description('stop following match ID (GEM has no cancel: a submitted job runs on)')
    .argument('<id>', 'match id')
    .action((id: string, _options, command: Command) =>
      run((context) => cancelCommand(id, context), command),
    );

  const validate = program
    .command('validate')
    .description('check FILE offline with the validation the app runs, before uploading it')
    .argument('<file>', 'the road file to check (any road format the app reads)')
    .addOption(jobTypeOption().default('ROAD_MATCHING'))
    .option('--max <n>', 'problems shown (all are counted; default 20)', wholeNumber(1, 10_000));
  for (const option of UPLOAD_OPTIONS.filter((o) => o.format)) {
    validate.option(
      `--${option.flag} <value>`,
      `format option, as blob metadata "${option.metadataKey}" sets it`,
    );
  }
  validate.action((file: string, _options, command: Command) =>
    run((context) => validateCommand(file, command.opts(), context), command),
  );
}

/** The program; `run` receives each command's handler with the context built from the global options. */
export function buildProgram(io: CliIo, run: Run): Command {
  const program = programWithGlobalOptions(io);
  addMatchCommand(program, run);
  addStatusCommand(program, run);
  addListingCommands(program, run);
  addCancelAndValidate(program, run);
  return program;
}

/** Runs one command line (`argv` without node and the script) and returns its exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  let output = new Output(outputModeFor(argv.includes('--json'), io.stdout), io.stdout, io.stderr);
  const program = buildProgram(io, async (handler, command) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    output = new Output(outputModeFor(globals.json, io.stdout), io.stdout, io.stderr);
    try {
      exitCode = await handler(createContext(io, output, globals), command);
    } catch (error) {
      const failure = asCliError(error);
      output.error(failure);
      exitCode = failure.exitCode;
    }
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    // --help and --version end through exitOverride too, with exit code 0.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.usage;
  }
  return exitCode;
}
