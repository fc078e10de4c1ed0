/**
 * Runs Step Functions service integration tasks against whatever `AWS_ENDPOINT_URL` points at (moto locally) with
 * the AWS SDK for JavaScript v3:
 * - `arn:aws:states:::aws-sdk:<service>:<action>`: `@aws-sdk/client-<service>`'s `<Action>Command`. Parameters and
 *   results are translated between the Step Functions field names (`DbSnapshotIdentifier`) and the service model
 *   names (`DBSnapshotIdentifier`) with the command's schema; unknown parameters are refused as Step Functions
 *   refuses them; service errors become `<Service>.<Exception>` errors (see ./sfn-naming).
 * - `arn:aws:states:::sns:publish` (optimized integration): the SNS `Publish` call, a non-string `Message` sent as
 *   JSON, the result shaped as Step Functions returns it.
 *
 * Clients are configured from the environment only (region, credentials, endpoint), as product code is.
 */
import { NormalizedSchema } from '@smithy/core/schema';
import { LocalWorkflowError, TaskFailure } from './errors';
import { sfnExceptionName, sfnFieldAliases, sfnFieldName, sfnSdkErrorName, sfnServiceName } from './sfn-naming';
import type { JsonValue } from './template-resolver';

/** npm package suffix of `@aws-sdk/client-<suffix>` where it differs from the Step Functions service name. */
const CLIENT_PACKAGES: Readonly<Record<string, string>> = {
  secretsmanager: 'secrets-manager',
  route53: 'route-53',
  cloudwatchlogs: 'cloudwatch-logs',
  eventbridge: 'eventbridge',
  applicationautoscaling: 'application-auto-scaling',
  apigateway: 'api-gateway',
  costexplorer: 'cost-explorer',
  elasticloadbalancingv2: 'elastic-load-balancing-v2',
  rdsdata: 'rds-data',
};

/** A schema reference as the SDK clients export them. */
type SchemaRef = Parameters<typeof NormalizedSchema.of>[0];
/**
 * An operation schema as every SDK v3 client exports it (`<Operation>$`):
 * `[9, namespace, name, traits, input, output]` (`StaticOperationSchema` of @smithy/types).
 */
type StaticOperationSchema = readonly [number, string, string, unknown, SchemaRef, SchemaRef];

interface SdkCommand {
  readonly input: unknown;
}
type CommandClass = new (input: unknown) => SdkCommand;
interface SdkClient {
  send(command: SdkCommand): Promise<unknown>;
  destroy(): void;
  readonly config: { readonly serviceId?: string };
}
type ClientClass = new (config: Record<string, never>) => SdkClient;

interface LoadedService {
  readonly packageName: string;
  readonly module: Readonly<Record<string, unknown>>;
  readonly client: SdkClient;
  readonly serviceId: string;
  readonly baseException: (new (...args: never[]) => Error) | undefined;
}

/** Metadata SDK v3 attaches to service errors. */
interface ServiceErrorShape extends Error {
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string; readonly extendedRequestId?: string };
  readonly Code?: string;
}

/** Calls AWS service integrations for one local execution; {@link destroy} closes the clients. */
export class SdkIntegrations {
  private readonly services = new Map<string, Promise<LoadedService>>();

  /**
   * Runs `arn:aws:states:::aws-sdk:<service>:<action>` with the task's effective parameters.
   *
   * @param where the state name, for messages
   */
  async awsSdk(service: string, action: string, parameters: JsonValue, where: string): Promise<JsonValue> {
    const loaded = await this.load(service);
    const operation = action.charAt(0).toUpperCase() + action.slice(1);
    const Command = loaded.module[`${operation}Command`];
    if (typeof Command !== 'function') {
      throw new LocalWorkflowError(`state "${where}": ${loaded.packageName} has no ${operation}Command (aws-sdk:${service}:${action})`);
    }
    const schema = loaded.module[`${operation}$`] as StaticOperationSchema | undefined;
    const inputSchema = schema === undefined ? undefined : NormalizedSchema.of(schema[4]);
    const outputSchema = schema === undefined ? undefined : NormalizedSchema.of(schema[5]);
    const input = inputSchema === undefined ? parameters : toSdkValue(parameters ?? {}, inputSchema, `${where}.Parameters`);
    let output: unknown;
    try {
      output = await loaded.client.send(new (Command as CommandClass)(input));
    } catch (error) {
      throw this.sdkFailure(error, loaded);
    }
    return outputSchema === undefined ? stripMetadata(output) : toSfnValue(output, outputSchema);
  }

  /** Runs the optimized `arn:aws:states:::sns:publish` integration. */
  async snsPublish(parameters: JsonValue, where: string): Promise<JsonValue> {
    if (!isPlainObject(parameters)) throw new LocalWorkflowError(`state "${where}": sns:publish needs an object of parameters`);
    const loaded = await this.load('sns');
    const input: Record<string, unknown> = { ...parameters };
    if (input.Message !== undefined && typeof input.Message !== 'string') input.Message = JSON.stringify(input.Message);
    const Command = loaded.module.PublishCommand as CommandClass;
    try {
      const output = (await loaded.client.send(new Command(input))) as {
        MessageId?: string;
        SequenceNumber?: string;
        $metadata?: { requestId?: string; httpStatusCode?: number };
      };
      const result: Record<string, JsonValue> = {};
      if (output.MessageId !== undefined) result.MessageId = output.MessageId;
      if (output.SequenceNumber !== undefined) result.SequenceNumber = output.SequenceNumber;
      const requestId = output.$metadata?.requestId ?? '';
      result.SdkHttpMetadata = {
        AllHttpHeaders: { 'x-amzn-RequestId': [requestId] },
        HttpHeaders: { 'x-amzn-RequestId': requestId },
        HttpStatusCode: output.$metadata?.httpStatusCode ?? 200,
      };
      result.SdkResponseMetadata = { RequestId: requestId };
      return result;
    } catch (error) {
      if (!(error instanceof Error) || !isServiceError(error, loaded)) throw this.sdkFailure(error, loaded);
      const e = error as ServiceErrorShape;
      const code = e.Code ?? e.name;
      const exception = code.endsWith('Exception') ? code : `${code}Exception`;
      throw new TaskFailure(
        `SNS.${exception}`,
        `${e.message} (Service: AmazonSNS; Status Code: ${e.$metadata?.httpStatusCode ?? 'unknown'}; Error Code: ${code}; ` +
          `Request ID: ${e.$metadata?.requestId ?? 'unknown'}; Proxy: null)`,
      );
    }
  }

  /** Closes every client this instance opened. */
  async destroy(): Promise<void> {
    const loaded = await Promise.allSettled(this.services.values());
    for (const result of loaded) if (result.status === 'fulfilled') result.value.client.destroy();
    this.services.clear();
  }

  private load(service: string): Promise<LoadedService> {
    let pending = this.services.get(service);
    if (pending === undefined) {
      pending = loadService(service);
      this.services.set(service, pending);
    }
    return pending;
  }

  private sdkFailure(error: unknown, loaded: LoadedService): Error {
    if (error instanceof LocalWorkflowError) return error;
    const service = sfnServiceName(loaded.serviceId);
    if (error instanceof Error && isServiceError(error, loaded)) {
      const e = error as ServiceErrorShape;
      const modeled = loaded.baseException !== undefined && e.constructor !== loaded.baseException;
      const details = [
        `Service: ${service}`,
        `Status Code: ${e.$metadata?.httpStatusCode ?? 'unknown'}`,
        `Request ID: ${e.$metadata?.requestId ?? 'unknown'}`,
      ];
      if (e.$metadata?.extendedRequestId !== undefined) details.push(`Extended Request ID: ${e.$metadata.extendedRequestId}`);
      return new TaskFailure(sfnSdkErrorName(loaded.serviceId, modeled ? e.name : undefined), `${e.message} (${details.join(', ')})`);
    }
    // Not a service response (connection refused, serialization): the Java SDK's client-side exception.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return new TaskFailure(`${service}.${sfnExceptionName('SdkClientException', service)}`, message);
  }
}

async function loadService(service: string): Promise<LoadedService> {
  const packageName = `@aws-sdk/client-${CLIENT_PACKAGES[service] ?? service}`;
  let module: Readonly<Record<string, unknown>>;
  try {
    module = (await import(packageName)) as Readonly<Record<string, unknown>>;
  } catch (error) {
    throw new LocalWorkflowError(
      `aws-sdk:${service} tasks need ${packageName}, which cannot be loaded (${error instanceof Error ? error.message : String(error)}); add it as a dev dependency`,
    );
  }
  const clientName = Object.keys(module).find((name) => /^[A-Z][A-Za-z0-9]*Client$/.test(name) && typeof module[name] === 'function');
  if (clientName === undefined) throw new LocalWorkflowError(`${packageName} exports no *Client class`);
  const client = new (module[clientName] as ClientClass)({});
  const baseName = Object.keys(module).find((name) => /^[A-Z][A-Za-z0-9]*ServiceException$/.test(name));
  return {
    packageName,
    module,
    client,
    serviceId: client.config.serviceId ?? service,
    baseException: baseName === undefined ? undefined : (module[baseName] as new (...args: never[]) => Error),
  };
}

function isServiceError(error: Error, loaded: LoadedService): boolean {
  if (loaded.baseException !== undefined && error instanceof loaded.baseException) return true;
  return (error as ServiceErrorShape).$metadata?.httpStatusCode !== undefined;
}

function isPlainObject(value: unknown): value is Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Step Functions parameters -> SDK v3 input, walking the operation's input schema. Refuses fields the model does not
 * have, as Step Functions refuses them when the state machine is created.
 */
export function toSdkValue(value: JsonValue, schema: NormalizedSchema, path: string): unknown {
  if (value === null) return undefined;
  if (schema.isStructSchema()) {
    if (!isPlainObject(value)) throw new LocalWorkflowError(`${path} must be an object of ${schema.getName() ?? 'fields'}, got ${JSON.stringify(value)}`);
    const fields = new Map<string, [string, NormalizedSchema]>();
    const canonical: string[] = [];
    for (const [member, memberSchema] of schema.structIterator()) {
      canonical.push(sfnFieldName(member));
      for (const alias of sfnFieldAliases(member)) fields.set(alias, [member, memberSchema]);
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const field = fields.get(key);
      if (field === undefined) {
        const similar = canonical.find((name) => name.toLowerCase() === key.toLowerCase());
        throw new LocalWorkflowError(
          `${path}.${key} is not a field Step Functions accepts for ${schema.getName() ?? 'this shape'}` +
            (similar === undefined ? `; its fields are ${canonical.join(', ')}` : `; Step Functions spells it ${similar}`),
        );
      }
      const converted = toSdkValue(item, field[1], `${path}.${key}`);
      if (converted !== undefined) out[field[0]] = converted;
    }
    return out;
  }
  if (schema.isListSchema()) {
    if (!Array.isArray(value)) throw new LocalWorkflowError(`${path} must be a list, got ${JSON.stringify(value)}`);
    return value.map((item, index) => toSdkValue(item, schema.getValueSchema(), `${path}[${index}]`));
  }
  if (schema.isMapSchema()) {
    if (!isPlainObject(value)) throw new LocalWorkflowError(`${path} must be an object, got ${JSON.stringify(value)}`);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, toSdkValue(item, schema.getValueSchema(), `${path}.${key}`)]));
  }
  if (schema.isBlobSchema() || schema.isStreaming()) return typeof value === 'string' ? value : JSON.stringify(value);
  if (schema.isTimestampSchema()) {
    if (typeof value === 'number') return new Date(value * 1000);
    if (typeof value === 'string') return new Date(value);
  }
  return value;
}

/** SDK v3 output -> the Step Functions result: Java bean field names, ISO timestamps, streams read to text. */
export async function toSfnValue(value: unknown, schema: NormalizedSchema): Promise<JsonValue> {
  if (value === undefined || value === null) return null;
  if (schema.isStructSchema()) {
    if (typeof value !== 'object') return jsonOf(value);
    const source = value as Record<string, unknown>;
    const out: Record<string, JsonValue> = {};
    for (const [member, memberSchema] of schema.structIterator()) {
      if (source[member] === undefined) continue;
      out[sfnFieldName(member)] = await toSfnValue(source[member], memberSchema);
    }
    return out;
  }
  if (schema.isListSchema() && Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (const item of value) out.push(await toSfnValue(item, schema.getValueSchema()));
    return out;
  }
  if (schema.isMapSchema() && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) out[key] = await toSfnValue(item, schema.getValueSchema());
    return out;
  }
  if (typeof value === 'object' && value !== null && 'transformToString' in value && typeof value.transformToString === 'function') {
    return String(await (value as { transformToString(): Promise<string> }).transformToString());
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString(schema.isStreaming() ? 'utf8' : 'base64');
  return jsonOf(value);
}

function stripMetadata(output: unknown): JsonValue {
  if (typeof output !== 'object' || output === null) return jsonOf(output);
  const rest = { ...(output as Record<string, unknown>) };
  delete rest.$metadata;
  return jsonOf(rest);
}

function jsonOf(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'bigint' ? Number(item) : item)) ?? 'null') as JsonValue;
}
