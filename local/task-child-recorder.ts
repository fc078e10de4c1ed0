/**
 * Preloaded into a local Fargate task's child process (local/ecs-task.ts): reports every AWS SDK call the child makes
 * (service, operation, region and the request's scalar fields, tags and deleted keys: never bodies or secret values)
 * to the runner, which attributes them to the task role. Calls to the runner's own Step Functions endpoint are
 * reported too: SendTaskSuccess and friends are the task role's calls in AWS.
 */
import { Client } from '@smithy/core/client';

const recorder = process.env.CDK_BACKUP_DR_LOCAL_TASK_RECORDER;
const DROPPED_FIELDS: ReadonlySet<string> = new Set(['Body', 'SecretString', 'SecretBinary', 'MasterUserPassword', 'Value', 'Message', 'output', 'cause', 'taskToken']);

function reportable(input: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries((input ?? {}) as Record<string, unknown>)) {
    if (DROPPED_FIELDS.has(name) || value === undefined) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[name] = value;
    else if (name === 'Tags' || name === 'Delete') out[name] = JSON.parse(JSON.stringify(value)) as unknown;
  }
  return out;
}

if (recorder !== undefined) {
  type Send = (this: { config: { serviceId?: string; region: () => Promise<string> } }, command: { input?: unknown; constructor: { name: string } }, ...rest: unknown[]) => Promise<unknown>;
  const prototype = Client.prototype as unknown as { send: Send };
  const original = prototype.send;
  prototype.send = async function send(command, ...rest) {
    const call = {
      service: this.config.serviceId ?? 'unknown',
      operation: command.constructor.name.replace(/Command$/, ''),
      region: await this.config.region(),
      input: reportable(command.input),
    };
    await fetch(recorder, { method: 'POST', body: JSON.stringify(call) });
    return original.call(this, command, ...rest);
  };
}
