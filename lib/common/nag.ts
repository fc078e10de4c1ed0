import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
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

/**
 * Opens a database's own port to `peer` (one of this package's security groups) and, when that port is a deploy-time
 * value (an RDS instance's or cluster's endpoint port), acknowledges the rule errors it causes on exactly the ingress
 * rules this call created: cdk-nag's EC2RestrictedSSH and EC2RestrictedCommonPorts cannot read a token port, although
 * a rule whose source is a security group opens nothing to a network range. A database imported without a port is
 * opened on PostgreSQL's 5432.
 */
export function allowDatabasePortFrom(connections: ec2.Connections, peer: ec2.ISecurityGroup, description: string): void {
  const before = new Set(connections.securityGroups.flatMap((sg) => sg.node.findAll()).concat(peer.node.findAll()));
  const port = connections.defaultPort ?? ec2.Port.tcp(5432);
  connections.allowFrom(peer, port, description);
  if (!Token.isUnresolved(port.toString()) && !port.toString().includes('{IndirectPort}')) return;
  const created = connections.securityGroups
    .flatMap((sg) => sg.node.findAll())
    .concat(peer.node.findAll())
    .filter((c) => !before.has(c) && (c instanceof ec2.CfnSecurityGroupIngress || c instanceof ec2.CfnSecurityGroupEgress));
  const reason =
    "The rule admits only this package's Lambda security group (no CIDR range) on the database's own port, which is known only at deploy time, so cdk-nag cannot read it.";
  for (const rule of created) {
    for (const check of ['EC2RestrictedSSH', 'EC2RestrictedCommonPorts']) acknowledgeHipaaAndNist(rule, check, reason);
  }
}
