/**
 * Finding the external tools a contender needs. A missing tool skips its contender with a note in the results
 * instead of failing the whole bench.
 */

/** A tool that was found, and where. */
export interface FoundTool {
  readonly available: true;
  readonly path: string;
  readonly version: string;
  /** Why this candidate: `AWS_CLI_PATH`, `/usr/bin/aws`, `PATH`. */
  readonly source: string;
  /** Set when the tool is a fallback, not the one the comparison was designed against. */
  readonly note?: string;
}

/** A tool that was not found: its contender is skipped. */
export interface MissingTool {
  readonly available: false;
  /** What was tried and what to do, for the results JSON. */
  readonly note: string;
}

export type ToolLookup = FoundTool | MissingTool;

/** One place to look for the aws CLI, in order of preference. */
export interface AwsCliCandidate {
  readonly path: string;
  readonly source: string;
  readonly note?: string;
}

/**
 * Where to look for the aws CLI: `AWS_CLI_PATH` when set (and nothing else: an explicit choice is not second-guessed),
 * else Debian's awscli 2 at /usr/bin/aws, else whatever `aws` is on PATH (e.g. a pyenv shim of awscli 1).
 */
export function awsCliCandidates(env: NodeJS.ProcessEnv): AwsCliCandidate[] {
  if (env.AWS_CLI_PATH) return [{ path: env.AWS_CLI_PATH, source: 'AWS_CLI_PATH' }];
  return [
    { path: '/usr/bin/aws', source: '/usr/bin/aws' },
    {
      path: 'aws', source: 'PATH',
      note: "fallback: Debian's awscli (/usr/bin/aws) is not installed, so the pipeline uses the aws on PATH; " +
        'its speed is not that of awscli 2',
    },
  ];
}

/**
 * The first candidate whose `--version` answers (`probe` returns the version text, or undefined when the
 * executable is missing or fails), or a note saying what was tried and how to get one.
 */
export function findTool(candidates: readonly AwsCliCandidate[], probe: (path: string) => string | undefined,
  install: string): ToolLookup {
  const tried: string[] = [];
  for (const c of candidates) {
    const version = probe(c.path);
    if (version !== undefined) {
      return { available: true, path: c.path, version, source: c.source, ...(c.note === undefined ? {} : { note: c.note }) };
    }
    tried.push(`${c.path} (${c.source})`);
  }
  return { available: false, note: `skipped: no working executable among ${tried.join(', ')}; ${install}` };
}
