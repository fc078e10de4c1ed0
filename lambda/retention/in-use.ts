/**
 * Which backups a running recovery test or failover picked: asked of Step Functions, so the cleanup never deletes a
 * backup while a restore reads it.
 *
 * For each RecoveryTest / Failover state machine the cleanup is given, every execution with status RUNNING
 * (ListExecutions, all pages) is read: its input (DescribeExecution; an explicit pick such as
 * `{ "selection": { "manifestKey": … } }` or a snapshot identifier) and its history (GetExecutionHistory, all pages;
 * a `latest` pick is only in the output of the pick or preflight step). Every dump or manifest key and every snapshot
 * identifier (`cdkbdr-…`) found in that text is in use by that execution. A dump key stands for its manifest, so the
 * backup is found whichever of the two the run carries. Execution ARNs carry their region, so a Failover in the DR
 * region is asked there.
 *
 * Pure extraction ({@link referencedBackups}) is apart from the I/O ({@link backupsInUse}).
 */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { DUMP_SUFFIX, MANIFEST_SUFFIX } from '../backup/manifest';
import { DUMP_KEY_PREFIX, SNAPSHOT_ID_PREFIX } from '../common/names';

/** Dump and manifest keys: `postgres/<source>/<database>/<YYYY>/<MM>/<DD>/<timestamp>.dump|.manifest.json`. */
const KEY_PATTERN = new RegExp(`${DUMP_KEY_PREFIX}[A-Za-z0-9._-]+/[A-Za-z0-9_$.-]+/\\d{4}/\\d{2}/\\d{2}/[A-Za-z0-9._:-]+?(?:\\.manifest\\.json|\\.dump)`, 'g');
/** Snapshot identifiers this package gives (also inside ARNs). */
const SNAPSHOT_PATTERN = new RegExp(`${SNAPSHOT_ID_PREFIX}[a-z0-9]+(?:-[a-z0-9]+)*`, 'g');

/**
 * The backup ids `text` names: manifest keys (a dump key is turned into its manifest's) and snapshot identifiers.
 * Anything else (scratch identifiers, report keys) may be among them and matches no backup.
 */
export function referencedBackups(text: string): Set<string> {
  const out = new Set<string>();
  for (const match of text.matchAll(KEY_PATTERN)) {
    const key = match[0];
    out.add(key.endsWith(DUMP_SUFFIX) ? `${key.slice(0, -DUMP_SUFFIX.length)}${MANIFEST_SUFFIX}` : key);
  }
  for (const match of text.matchAll(SNAPSHOT_PATTERN)) out.add(match[0]);
  return out;
}

/** Backup id (manifest key or snapshot identifier) -> what uses it (`execution <name> of <state machine>`). */
export type BackupsInUse = ReadonlyMap<string, string>;

/** What {@link backupsInUse} asked and found. */
export interface InUseCheck {
  readonly inUse: BackupsInUse;
  /** The running executions read, by ARN. */
  readonly runningExecutions: readonly string[];
  /** Step Functions calls made, by command name. */
  readonly calls: Readonly<Record<string, number>>;
}

const clients = new Map<string, SFNClient>();
function sfnFor(region: string): SFNClient {
  let client = clients.get(region);
  if (!client) {
    client = new SFNClient({ region });
    clients.set(region, client);
  }
  return client;
}

/** `execution <name> of <state machine>`, from an execution ARN. */
export function describeExecutionArn(arn: string): string {
  const parts = arn.split(':');
  return parts.length >= 8 ? `execution ${parts[7]} of ${parts[6]}` : `execution ${arn}`;
}

/**
 * The backups that running executions of `stateMachineArns` picked; see the module comment.
 * @throws whatever Step Functions answers besides a finished execution: the caller then deletes nothing
 */
export async function backupsInUse(stateMachineArns: readonly string[]): Promise<InUseCheck> {
  const inUse = new Map<string, string>();
  const running: string[] = [];
  const calls: Record<string, number> = {};
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  for (const stateMachineArn of stateMachineArns) {
    const sfn = sfnFor(stateMachineArn.split(':')[3]);
    let token: string | undefined;
    do {
      count('ListExecutions');
      const page = await sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken: token, maxResults: 1000 }));
      for (const execution of page.executions ?? []) {
        if (execution.executionArn === undefined) continue;
        const executionArn = execution.executionArn;
        const texts: string[] = [];
        count('DescribeExecution');
        const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
        if (described.status !== 'RUNNING') continue; // it ended since it was listed
        running.push(executionArn);
        texts.push(described.input ?? '');
        let historyToken: string | undefined;
        do {
          count('GetExecutionHistory');
          const history = await sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken: historyToken, maxResults: 1000, includeExecutionData: true }));
          texts.push(JSON.stringify(history.events ?? []));
          historyToken = history.nextToken;
        } while (historyToken !== undefined);
        const user = describeExecutionArn(executionArn);
        for (const id of referencedBackups(texts.join('\n'))) if (!inUse.has(id)) inUse.set(id, user);
      }
      token = page.nextToken;
    } while (token !== undefined);
  }
  return { inUse, runningExecutions: running, calls };
}
