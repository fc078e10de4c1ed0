/**
 * Resolves CloudFormation intrinsics in a synthesized template to concrete local values. Pure: no I/O.
 *
 * `Ref` and `Fn::GetAtt` of a resource take the caller's binding (`resources`, e.g. a bucket created in the
 * emulator) when there is one, otherwise a value fabricated from the resource type and logical id (a bucket name, a
 * Lambda ARN, a KMS key id...). Every fabricated value is reported through `onFabricated` so a caller can list it:
 * a fabricated bucket name does not exist in the emulator.
 */
import { createHash } from 'node:crypto';

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** One resource of a synthesized CloudFormation template. */
export interface CfnTemplateResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly Condition?: string;
}

/** The parts of a synthesized CloudFormation template this resolver reads. */
export interface CfnTemplate {
  readonly Resources?: Readonly<Record<string, CfnTemplateResource>>;
  readonly Parameters?: Readonly<Record<string, { readonly Type?: string; readonly Default?: unknown }>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Mappings?: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, unknown>>>>>>;
}

/**
 * The local value of a template resource: its physical id (what `Ref` returns), or an object with the physical id
 * and explicit attribute values (what `Fn::GetAtt` returns). Attributes not given are derived from the physical id
 * where the resource type defines them (`Arn` of a bucket, a function, a key...).
 */
export type ResourceBinding =
  | string
  | {
      /** What `Ref` returns (a bucket name, a topic ARN...). */
      readonly ref?: string;
      /** What `Fn::GetAtt [id, name]` returns, by attribute name. */
      readonly attributes?: Readonly<Record<string, string>>;
    };

/** Options of {@link TemplateResolver}. */
export interface TemplateResolverOptions {
  /** `AWS::Region`. */
  readonly region: string;
  /** `AWS::AccountId`. */
  readonly accountId: string;
  /** `AWS::StackName`; also the prefix of fabricated names. */
  readonly stackName: string;
  /** @default 'aws' */
  readonly partition?: string;
  /** @default 'amazonaws.com' */
  readonly urlSuffix?: string;
  /** Local values of resources by logical id. @default - every referenced resource gets a fabricated value */
  readonly resources?: Readonly<Record<string, ResourceBinding>>;
  /** Values of template parameters by name. @default - each parameter's `Default` */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Values of `Fn::ImportValue` by export name. @default - an import is an error */
  readonly imports?: Readonly<Record<string, string>>;
  /** Called once per resource whose `Ref`/`Fn::GetAtt` value was fabricated. */
  readonly onFabricated?: (fabricated: FabricatedValue) => void;
}

/** A resource whose local value was made up because `resources` has no binding for it. */
export interface FabricatedValue {
  readonly logicalId: string;
  readonly type: string;
  /** What `Ref` returns for it. */
  readonly value: string;
  /** One sentence saying so. */
  readonly message: string;
}

/** Thrown when a value cannot be resolved; the message says what to pass. */
export class TemplateResolutionError extends Error {
  override readonly name = 'TemplateResolutionError';
}

const NO_VALUE = Symbol('AWS::NoValue');
type Resolved = JsonValue | typeof NO_VALUE;

/**
 * Resolves intrinsic functions of one template.
 *
 * @example
 * const resolver = new TemplateResolver(template, { region: 'us-east-1', accountId: '123456789012', stackName: 'Test',
 *   resources: { Bucket83908E77: 'my-local-bucket' } });
 * resolver.resolve({ 'Fn::GetAtt': ['Bucket83908E77', 'Arn'] }); // 'arn:aws:s3:::my-local-bucket'
 */
export class TemplateResolver {
  private readonly partition: string;
  private readonly urlSuffix: string;
  private readonly reported = new Set<string>();

  constructor(
    private readonly template: CfnTemplate,
    private readonly options: TemplateResolverOptions,
  ) {
    this.partition = options.partition ?? 'aws';
    this.urlSuffix = options.urlSuffix ?? 'amazonaws.com';
  }

  /** Resolves every intrinsic inside `value`; `AWS::NoValue` removes the property or element that holds it. */
  resolve(value: unknown): JsonValue {
    const resolved = this.resolveValue(value, '$');
    return resolved === NO_VALUE ? null : resolved;
  }

  /** Resolves `value` and requires a string. */
  resolveString(value: unknown, where: string): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string') {
      throw new TemplateResolutionError(`${where} resolved to ${JSON.stringify(resolved)}, expected a string`);
    }
    return resolved;
  }

  /** The resource with this logical id, or with this construct path (`Stack/Workflow/Resource` or `Stack/Workflow`). */
  findResource(idOrPath: string, type?: string): { readonly logicalId: string; readonly resource: CfnTemplateResource } {
    const resources = this.template.Resources ?? {};
    const direct = resources[idOrPath];
    if (direct !== undefined && (type === undefined || direct.Type === type)) return { logicalId: idOrPath, resource: direct };
    for (const [logicalId, resource] of Object.entries(resources)) {
      const cdkPath = resource.Metadata?.['aws:cdk:path'];
      if (typeof cdkPath !== 'string') continue;
      if ((cdkPath === idOrPath || cdkPath === `${idOrPath}/Resource`) && (type === undefined || resource.Type === type)) {
        return { logicalId, resource };
      }
    }
    const candidates = Object.entries(resources)
      .filter(([, resource]) => type === undefined || resource.Type === type)
      .map(([logicalId, resource]) => {
        const cdkPath = resource.Metadata?.['aws:cdk:path'];
        return typeof cdkPath === 'string' ? `${logicalId} (${cdkPath})` : logicalId;
      });
    throw new TemplateResolutionError(
      `no ${type ?? 'resource'} with logical id or construct path "${idOrPath}" in the template; ` +
        `candidates: ${candidates.length > 0 ? candidates.join(', ') : 'none'}`,
    );
  }

  /** What `Ref` of this logical id (a resource, a parameter or a pseudo parameter) returns. */
  ref(name: string): string | string[] {
    switch (name) {
      case 'AWS::Region':
        return this.options.region;
      case 'AWS::AccountId':
        return this.options.accountId;
      case 'AWS::Partition':
        return this.partition;
      case 'AWS::URLSuffix':
        return this.urlSuffix;
      case 'AWS::StackName':
        return this.options.stackName;
      case 'AWS::StackId':
        return `arn:${this.partition}:cloudformation:${this.options.region}:${this.options.accountId}:stack/${this.options.stackName}/${uuidFrom(this.options.stackName)}`;
      case 'AWS::NotificationARNs':
        return [];
      default:
        break;
    }
    const parameter = this.template.Parameters?.[name];
    if (parameter !== undefined) {
      const given = this.options.parameters?.[name];
      if (given !== undefined) return given;
      if (typeof parameter.Default === 'string' || typeof parameter.Default === 'number') return String(parameter.Default);
      throw new TemplateResolutionError(`template parameter ${name} has no Default; pass it in parameters: { ${name}: '...' }`);
    }
    const resource = this.template.Resources?.[name];
    if (resource === undefined) throw new TemplateResolutionError(`Ref ${name}: no such resource or parameter in the template`);
    return this.physicalId(name, resource);
  }

  /** What `Fn::GetAtt [logicalId, attribute]` returns. */
  getAtt(logicalId: string, attribute: string): string {
    const resource = this.template.Resources?.[logicalId];
    if (resource === undefined) throw new TemplateResolutionError(`Fn::GetAtt ${logicalId}.${attribute}: no such resource in the template`);
    const binding = this.options.resources?.[logicalId];
    if (typeof binding === 'object' && binding.attributes?.[attribute] !== undefined) return binding.attributes[attribute];
    const id = this.physicalId(logicalId, resource);
    const derived = this.derivedAttribute(resource.Type, id, attribute, logicalId);
    if (derived === undefined) {
      throw new TemplateResolutionError(
        `Fn::GetAtt ${logicalId}.${attribute} (${resource.Type}) has no local value; ` +
          `pass it in resources: { ${logicalId}: { attributes: { '${attribute}': '...' } } }`,
      );
    }
    return derived;
  }

  private physicalId(logicalId: string, resource: CfnTemplateResource): string {
    const binding = this.options.resources?.[logicalId];
    if (typeof binding === 'string') return binding;
    if (typeof binding === 'object' && binding.ref !== undefined) return binding.ref;
    const value = this.fabricatedId(logicalId, resource);
    if (!this.reported.has(logicalId)) {
      this.reported.add(logicalId);
      this.options.onFabricated?.({
        logicalId,
        type: resource.Type,
        value,
        message: `${logicalId} (${resource.Type}) has no binding in resources; its Ref is the local stand-in "${value}", which does not exist in the emulator unless created there`,
      });
    }
    return value;
  }

  private fabricatedId(logicalId: string, resource: CfnTemplateResource): string {
    const { region, accountId, stackName } = this.options;
    const p = this.partition;
    const props = resource.Properties ?? {};
    const named = (property: string): string | undefined =>
      props[property] === undefined ? undefined : this.resolveString(props[property], `${logicalId}.Properties.${property}`);
    const generic = `${stackName}-${logicalId}`;
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        return named('BucketName') ?? generic.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 63);
      case 'AWS::Lambda::Function':
        return named('FunctionName') ?? generic.slice(0, 64);
      case 'AWS::SNS::Topic':
        return `arn:${p}:sns:${region}:${accountId}:${named('TopicName') ?? generic}`;
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.${this.urlSuffix}/${accountId}/${named('QueueName') ?? generic}`;
      case 'AWS::KMS::Key':
        return uuidFrom(`${stackName}/${logicalId}`);
      case 'AWS::KMS::Alias':
        return named('AliasName') ?? `alias/${generic}`;
      case 'AWS::SecretsManager::Secret':
        return `arn:${p}:secretsmanager:${region}:${accountId}:secret:${named('Name') ?? generic}-${hex(logicalId, 6)}`;
      case 'AWS::IAM::Role':
        return named('RoleName') ?? generic.slice(0, 64);
      case 'AWS::StepFunctions::StateMachine':
        return `arn:${p}:states:${region}:${accountId}:stateMachine:${named('StateMachineName') ?? generic}`;
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName') ?? `/local/${generic}`;
      case 'AWS::RDS::DBInstance':
        return (named('DBInstanceIdentifier') ?? generic).toLowerCase();
      case 'AWS::RDS::DBCluster':
        return (named('DBClusterIdentifier') ?? generic).toLowerCase();
      case 'AWS::EC2::VPC':
        return `vpc-${hex(logicalId, 17)}`;
      case 'AWS::EC2::Subnet':
        return `subnet-${hex(logicalId, 17)}`;
      case 'AWS::EC2::SecurityGroup':
        return `sg-${hex(logicalId, 17)}`;
      // Ref of a task definition is its ARN, with the revision (the first: it is deployed once here).
      case 'AWS::ECS::TaskDefinition':
        return `arn:${p}:ecs:${region}:${accountId}:task-definition/${named('Family') ?? generic}:1`;
      default:
        return generic;
    }
  }

  private derivedAttribute(type: string, id: string, attribute: string, logicalId: string): string | undefined {
    const { region, accountId } = this.options;
    const p = this.partition;
    const last = (arn: string, separator: string): string => arn.slice(arn.lastIndexOf(separator) + 1);
    switch (`${type}.${attribute}`) {
      case 'AWS::S3::Bucket.Arn':
        return `arn:${p}:s3:::${id}`;
      case 'AWS::S3::Bucket.DomainName':
        return `${id}.s3.${this.urlSuffix}`;
      case 'AWS::S3::Bucket.RegionalDomainName':
        return `${id}.s3.${region}.${this.urlSuffix}`;
      case 'AWS::Lambda::Function.Arn':
        return `arn:${p}:lambda:${region}:${accountId}:function:${id}`;
      case 'AWS::SNS::Topic.TopicArn':
        return id;
      case 'AWS::SNS::Topic.TopicName':
        return last(id, ':');
      case 'AWS::SQS::Queue.Arn':
        return `arn:${p}:sqs:${region}:${accountId}:${last(id, '/')}`;
      case 'AWS::SQS::Queue.QueueName':
        return last(id, '/');
      case 'AWS::SQS::Queue.QueueUrl':
        return id;
      case 'AWS::KMS::Key.Arn':
        return id.startsWith('arn:') ? id : `arn:${p}:kms:${region}:${accountId}:key/${id}`;
      case 'AWS::KMS::Key.KeyId':
        return id.startsWith('arn:') ? last(id, '/') : id;
      case 'AWS::SecretsManager::Secret.Id':
        return id;
      case 'AWS::IAM::Role.Arn':
        return `arn:${p}:iam::${accountId}:role/${id}`;
      case 'AWS::IAM::Role.RoleId':
        return `AROA${hex(logicalId, 17).toUpperCase()}`;
      case 'AWS::StepFunctions::StateMachine.Arn':
        return id;
      case 'AWS::StepFunctions::StateMachine.Name':
        return last(id, ':');
      case 'AWS::Events::Rule.Arn':
        return `arn:${p}:events:${region}:${accountId}:rule/${id}`;
      case 'AWS::Logs::LogGroup.Arn':
        return `arn:${p}:logs:${region}:${accountId}:log-group:${id}:*`;
      case 'AWS::RDS::DBInstance.DBInstanceArn':
        return `arn:${p}:rds:${region}:${accountId}:db:${id}`;
      case 'AWS::RDS::DBInstance.Endpoint.Address':
        return `${id}.local.${region}.rds.${this.urlSuffix}`;
      case 'AWS::RDS::DBInstance.Endpoint.Port':
        return '5432';
      case 'AWS::RDS::DBCluster.DBClusterArn':
        return `arn:${p}:rds:${region}:${accountId}:cluster:${id}`;
      case 'AWS::RDS::DBCluster.Endpoint.Address':
        return `${id}.cluster-local.${region}.rds.${this.urlSuffix}`;
      case 'AWS::RDS::DBCluster.Endpoint.Port':
        return '5432';
      case 'AWS::EC2::SecurityGroup.GroupId':
        return id;
      default:
        break;
    }
    if (attribute === 'Arn') {
      // AWS::<Service>::<Resource> -> arn:<p>:<service>:<region>:<account>:<resource>/<id>
      const [, service, kind] = type.split('::');
      if (service !== undefined && kind !== undefined) {
        return `arn:${p}:${service.toLowerCase()}:${region}:${accountId}:${kind.toLowerCase()}/${id}`;
      }
    }
    return undefined;
  }

  private resolveValue(value: unknown, where: string): Resolved {
    if (value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
    if (Array.isArray(value)) {
      const out: JsonValue[] = [];
      value.forEach((item, index) => {
        const resolved = this.resolveValue(item, `${where}[${index}]`);
        if (resolved !== NO_VALUE) out.push(resolved);
      });
      return out;
    }
    if (typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 1) {
        const [key, argument] = entries[0];
        if (key === 'Ref' || key.startsWith('Fn::')) return this.intrinsic(key, argument, where);
      }
      const out: Record<string, JsonValue> = {};
      for (const [key, item] of entries) {
        const resolved = this.resolveValue(item, `${where}.${key}`);
        if (resolved !== NO_VALUE) out[key] = resolved;
      }
      return out;
    }
    throw new TemplateResolutionError(`${where}: ${typeof value} is not a template value`);
  }

  private intrinsic(name: string, argument: unknown, where: string): Resolved {
    const at = `${where} (${name})`;
    switch (name) {
      case 'Ref': {
        if (typeof argument !== 'string') throw new TemplateResolutionError(`${at}: Ref needs a name`);
        if (argument === 'AWS::NoValue') return NO_VALUE;
        return this.ref(argument);
      }
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = this.getAttArguments(argument, at);
        return this.getAtt(logicalId, attribute);
      }
      case 'Fn::Join': {
        const [delimiter, list] = this.pair(argument, at);
        const items = this.resolveValue(list, at);
        if (typeof delimiter !== 'string' || !Array.isArray(items)) throw new TemplateResolutionError(`${at}: needs [delimiter, [values]]`);
        return items.map((item) => this.scalar(item, at)).join(delimiter);
      }
      case 'Fn::Sub':
        return this.sub(argument, at);
      case 'Fn::Select': {
        const [index, list] = this.pair(argument, at);
        const i = Number(this.resolveValue(index, at));
        const items = this.resolveValue(list, at);
        if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length) {
          throw new TemplateResolutionError(`${at}: index ${i} is outside ${JSON.stringify(items)}`);
        }
        return items[i];
      }
      case 'Fn::Split': {
        const [delimiter, source] = this.pair(argument, at);
        const text = this.resolveValue(source, at);
        if (typeof delimiter !== 'string' || typeof text !== 'string') throw new TemplateResolutionError(`${at}: needs [delimiter, string]`);
        return text.split(delimiter);
      }
      case 'Fn::If': {
        if (!Array.isArray(argument) || argument.length !== 3 || typeof argument[0] !== 'string') {
          throw new TemplateResolutionError(`${at}: needs [condition, valueIfTrue, valueIfFalse]`);
        }
        return this.resolveValue(this.condition(argument[0]) ? argument[1] : argument[2], at);
      }
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${this.options.region}${zone}`);
      case 'Fn::Base64':
        return Buffer.from(this.scalar(this.resolveValue(argument, at), at), 'utf8').toString('base64');
      case 'Fn::FindInMap': {
        if (!Array.isArray(argument) || argument.length !== 3) throw new TemplateResolutionError(`${at}: needs [map, key, key]`);
        const [map, top, second] = argument.map((part) => this.scalar(this.resolveValue(part, at), at));
        const found = this.template.Mappings?.[map]?.[top]?.[second];
        if (found === undefined) throw new TemplateResolutionError(`${at}: Mappings.${map}.${top}.${second} does not exist`);
        return this.resolveValue(found, at);
      }
      case 'Fn::ImportValue': {
        const exportName = this.scalar(this.resolveValue(argument, at), at);
        const imported = this.options.imports?.[exportName];
        if (imported === undefined) throw new TemplateResolutionError(`${at}: pass the value of export "${exportName}" in imports`);
        return imported;
      }
      case 'Fn::ToJsonString':
        return JSON.stringify(this.resolveValue(argument, at));
      case 'Fn::Length': {
        const items = this.resolveValue(argument, at);
        if (!Array.isArray(items)) throw new TemplateResolutionError(`${at}: needs a list`);
        return items.length;
      }
      default:
        throw new TemplateResolutionError(`${at}: ${name} is not supported by the local resolver`);
    }
  }

  private sub(argument: unknown, at: string): string {
    let template: unknown = argument;
    let variables: Record<string, unknown> = {};
    if (Array.isArray(argument)) {
      [template] = argument;
      const second: unknown = argument[1];
      if (typeof second === 'object' && second !== null) variables = second as Record<string, unknown>;
    }
    if (typeof template !== 'string') throw new TemplateResolutionError(`${at}: needs a string or [string, {variables}]`);
    return template.replace(/\$\{([^}]*)\}/g, (_match, expression: string) => {
      if (expression.startsWith('!')) return `\${${expression.slice(1)}}`;
      if (expression in variables) return this.scalar(this.resolveValue(variables[expression], at), at);
      const dot = expression.indexOf('.');
      const isResourceAttribute = dot > 0 && this.template.Resources?.[expression.slice(0, dot)] !== undefined;
      if (isResourceAttribute) return this.getAtt(expression.slice(0, dot), expression.slice(dot + 1));
      return this.scalar(this.ref(expression), at);
    });
  }

  private condition(name: string): boolean {
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) throw new TemplateResolutionError(`condition ${name} is not defined in the template`);
    return this.evaluateCondition(definition, `Conditions.${name}`);
  }

  private evaluateCondition(expression: unknown, at: string): boolean {
    if (typeof expression !== 'object' || expression === null) throw new TemplateResolutionError(`${at}: not a condition`);
    const [[operator, argument]] = Object.entries(expression as Record<string, unknown>);
    const list = (): unknown[] => {
      if (!Array.isArray(argument)) throw new TemplateResolutionError(`${at}: ${operator} needs a list`);
      return argument;
    };
    switch (operator) {
      case 'Condition':
        return this.condition(String(argument));
      case 'Fn::Equals': {
        const [left, right] = list().map((item) => JSON.stringify(this.resolveValue(item, at)));
        return left === right;
      }
      case 'Fn::And':
        return list().every((item) => this.evaluateCondition(item, at));
      case 'Fn::Or':
        return list().some((item) => this.evaluateCondition(item, at));
      case 'Fn::Not':
        return !this.evaluateCondition(list()[0], at);
      default:
        throw new TemplateResolutionError(`${at}: ${operator} is not a condition function`);
    }
  }

  private getAttArguments(argument: unknown, at: string): [string, string] {
    if (typeof argument === 'string' && argument.includes('.')) {
      const dot = argument.indexOf('.');
      return [argument.slice(0, dot), argument.slice(dot + 1)];
    }
    if (Array.isArray(argument) && argument.length === 2 && typeof argument[0] === 'string') {
      return [argument[0], this.scalar(this.resolveValue(argument[1], at), at)];
    }
    throw new TemplateResolutionError(`${at}: needs [logicalId, attribute]`);
  }

  private pair(argument: unknown, at: string): [unknown, unknown] {
    if (!Array.isArray(argument) || argument.length !== 2) throw new TemplateResolutionError(`${at}: needs two arguments`);
    return [argument[0], argument[1]];
  }

  private scalar(value: Resolved | string[], at: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new TemplateResolutionError(`${at}: ${JSON.stringify(value === NO_VALUE ? 'AWS::NoValue' : value)} is not a string`);
  }
}

function hex(seed: string, length: number): string {
  return createHash('sha256').update(seed).digest('hex').slice(0, length);
}

function uuidFrom(seed: string): string {
  const h = hex(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
