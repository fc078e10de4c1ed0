import { Arn, ArnFormat, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { acknowledgeWildcardResource } from './nag';

/** A KMS key as the key policy statements name it: its ARN, or every key of its account and region plus an alias condition. */
interface KeyReference {
  readonly resource: string;
  readonly conditions: Record<string, Record<string, string>>;
  /** Set when the key is known only by alias: the alias name (`alias/…`) the condition matches. */
  readonly aliasName?: string;
}

/** The key ARN, or for an alias (ARN or imported `kms.Alias`) all keys of its region narrowed by `kms:ResourceAliases`. */
export function keyReference(scope: lambda.IFunction, key: kms.IKey | string): KeyReference {
  const stack = Stack.of(scope);
  const aliasOf = (): { aliasName: string; region?: string; account?: string } | undefined => {
    if (typeof key !== 'string') return 'aliasName' in key ? { aliasName: (key as kms.IAlias).aliasName, region: Stack.of(key).region, account: Stack.of(key).account } : undefined;
    if (Token.isUnresolved(key) || !key.includes(':alias/')) return undefined;
    const parts = Arn.split(key, ArnFormat.SLASH_RESOURCE_NAME);
    return { aliasName: `alias/${parts.resourceName}`, region: parts.region, account: parts.account };
  };
  const alias = aliasOf();
  if (!alias) return { resource: typeof key === 'string' ? key : key.keyArn, conditions: {} };
  return {
    resource: stack.formatArn({ service: 'kms', region: alias.region, account: alias.account, resource: 'key', resourceName: '*' }),
    conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': alias.aliasName } },
    aliasName: alias.aliasName,
  };
}

/**
 * Lets RDS use `key` on `fn`'s behalf (copying or restoring encrypted snapshots, encrypting a new database's storage):
 * `kms:CreateGrant` only for grants an AWS service creates (`kms:GrantIsForAWSResource`, which only CreateGrant
 * carries), and `kms:DescribeKey` in its own statement, both on that one key. A key known only by its alias is matched
 * with `kms:ResourceAliases`, and that wildcard is acknowledged on `fn` with the reason.
 */
export function grantRdsKeyUse(fn: lambda.Function, key: kms.IKey | string, sid: string, purpose: string): void {
  const ref = keyReference(fn, key);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      sid: `${sid}Grant`,
      actions: ['kms:CreateGrant'],
      resources: [ref.resource],
      conditions: { ...ref.conditions, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
    }),
  );
  fn.addToRolePolicy(new iam.PolicyStatement({ sid: `${sid}Describe`, actions: ['kms:DescribeKey'], resources: [ref.resource], conditions: ref.conditions }));
  if (ref.aliasName !== undefined) {
    acknowledgeWildcardResource(
      fn,
      ref.resource,
      `The key for ${purpose} was given by alias (its id is only known in its own region after deployment); kms:ResourceAliases restricts this to the one key carrying ${ref.aliasName}.`,
    );
  }
}
