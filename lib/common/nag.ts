import { Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Renders a resolved CloudFormation value the way cdk-nag names it in its findings
 * (`<Logical.Arn>/prefix/*`, `arn:<AWS::Partition>:...`), so an acknowledgement can name one exact finding.
 */
export function nagResourceString(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (Array.isArray(obj['Fn::Join'])) {
      const [delimiter, parts] = obj['Fn::Join'] as [string, unknown[]];
      return parts.map(nagResourceString).join(delimiter);
    }
    if (typeof obj.Ref === 'string') {
      return `<${obj.Ref}>`;
    }
    if (Array.isArray(obj['Fn::GetAtt'])) {
      return `<${(obj['Fn::GetAtt'] as string[]).join('.')}>`;
    }
  }
  return JSON.stringify(value);
}

/**
 * Acknowledges the AwsSolutions-IAM5 finding for exactly one wildcard resource (e.g. the objects under one prefix),
 * leaving any other wildcard on the same policy reported.
 */
export function acknowledgeWildcardResource(scope: IConstruct, resourceArn: string, reason: string): void {
  const rendered = nagResourceString(Stack.of(scope).resolve(resourceArn));
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
}

/** Acknowledges one rule in each of the HIPAA Security and NIST 800-53 R5 packs (they share rule names). */
export function acknowledgeHipaaAndNist(scope: IConstruct, rule: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `HIPAA.Security-${rule}`, reason });
  Validations.of(scope).acknowledge({ id: `NIST.800.53.R5-${rule}`, reason });
}
