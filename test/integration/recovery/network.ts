/**
 * A VPC, two subnets, a security group and a DB subnet group in moto, for tests that create RDS instances (moto
 * checks that a DB subnet group exists and that its subnets do). The package has no EC2 SDK client, so this speaks
 * EC2's query protocol directly, as test/support/moto.ts does for KMS; moto does not check signatures.
 */
import { CreateDBSubnetGroupCommand, RDSClient } from '@aws-sdk/client-rds';
import { harnessEnv } from '../../support/env';

/** What {@link createScratchNetwork} made. */
export interface ScratchNetwork {
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
  readonly subnetGroupName: string;
}

async function ec2(action: string, params: Record<string, string>, region: string): Promise<string> {
  const env = harnessEnv();
  const body = new URLSearchParams({ Action: action, Version: '2016-11-15', ...params });
  const response = await fetch(env.awsEndpointUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: body.toString(),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`EC2 ${action} against moto failed with HTTP ${response.status}: ${text.slice(0, 500)}`);
  return text;
}

function field(xml: string, name: string): string {
  const match = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml);
  if (!match) throw new Error(`no <${name}> in moto's answer: ${xml.slice(0, 300)}`);
  return match[1];
}

/** Creates the network pieces a scratch DB instance needs in moto, in `region` (default AWS_REGION). */
export async function createScratchNetwork(name: string, region = harnessEnv().awsRegion): Promise<ScratchNetwork> {
  const vpcId = field(await ec2('CreateVpc', { CidrBlock: '10.20.0.0/16' }, region), 'vpcId');
  const subnetIds: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const xml = await ec2('CreateSubnet', { VpcId: vpcId, CidrBlock: `10.20.${i}.0/24`, AvailabilityZone: `${region}${az}` }, region);
    subnetIds.push(field(xml, 'subnetId'));
  }
  const securityGroupId = field(
    await ec2('CreateSecurityGroup', { GroupName: `${name}-scratch`, GroupDescription: 'scratch databases', VpcId: vpcId }, region),
    'groupId',
  );
  const rds = new RDSClient({ region });
  try {
    await rds.send(
      new CreateDBSubnetGroupCommand({ DBSubnetGroupName: name, DBSubnetGroupDescription: 'scratch databases', SubnetIds: subnetIds }),
    );
  } finally {
    rds.destroy();
  }
  return { vpcId, subnetIds, securityGroupId, subnetGroupName: name };
}
