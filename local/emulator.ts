/**
 * Resources in the AWS emulator (moto) that the package has no SDK client for: KMS keys and the network pieces an RDS
 * instance needs (VPC, subnets, security group, DB subnet group). Used by the workflow tests and the drill. moto routes
 * a request by the credential scope of its Authorization header and does not check signatures, so these speak the
 * services' JSON and query protocols directly.
 */
import { CreateDBSubnetGroupCommand, RDSClient } from '@aws-sdk/client-rds';

/** A KMS key created in the emulator. */
export interface EmulatorKmsKey {
  readonly keyId: string;
  readonly arn: string;
}

/** What {@link createScratchNetwork} made. */
export interface ScratchNetwork {
  readonly vpcId: string;
  readonly subnetIds: readonly string[];
  readonly securityGroupId: string;
  readonly subnetGroupName: string;
}

/** Calls an AWS JSON-protocol API (KMS, SQS) on the emulator at `endpoint`. */
export async function awsJsonCall<T>(endpoint: string, service: 'kms' | 'sqs', target: string, body: object, region: string): Promise<T> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': service === 'sqs' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1',
      'X-Amz-Target': target,
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${target} against the emulator at ${endpoint} failed with HTTP ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** Creates a symmetric customer-managed KMS key in the emulator. */
export async function createKmsKey(endpoint: string, description: string, region: string): Promise<EmulatorKmsKey> {
  const { KeyMetadata } = await awsJsonCall<{ KeyMetadata: { KeyId: string; Arn: string } }>(
    endpoint,
    'kms',
    'TrentService.CreateKey',
    { Description: description, KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT' },
    region,
  );
  return { keyId: KeyMetadata.KeyId, arn: KeyMetadata.Arn };
}

async function ec2(endpoint: string, action: string, params: Record<string, string>, region: string): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: '2016-11-15', ...params });
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `AWS4-HMAC-SHA256 Credential=test/20250101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: body.toString(),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`EC2 ${action} against the emulator failed with HTTP ${response.status}: ${text.slice(0, 500)}`);
  return text;
}

function field(xml: string, name: string): string {
  const match = new RegExp(`<${name}>([^<]+)</${name}>`).exec(xml);
  if (!match) throw new Error(`no <${name}> in the emulator's answer: ${xml.slice(0, 300)}`);
  return match[1];
}

/**
 * Creates the network pieces an RDS instance needs in the emulator (moto checks that a DB subnet group exists and
 * that its subnets do), in `region`.
 */
export async function createScratchNetwork(endpoint: string, name: string, region: string): Promise<ScratchNetwork> {
  const vpcId = field(await ec2(endpoint, 'CreateVpc', { CidrBlock: '10.20.0.0/16' }, region), 'vpcId');
  const subnetIds: string[] = [];
  for (const [i, az] of ['a', 'b'].entries()) {
    const xml = await ec2(endpoint, 'CreateSubnet', { VpcId: vpcId, CidrBlock: `10.20.${i}.0/24`, AvailabilityZone: `${region}${az}` }, region);
    subnetIds.push(field(xml, 'subnetId'));
  }
  const securityGroupId = field(
    await ec2(endpoint, 'CreateSecurityGroup', { GroupName: `${name}-scratch`, GroupDescription: 'scratch databases', VpcId: vpcId }, region),
    'groupId',
  );
  const rds = new RDSClient({ region });
  try {
    await rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: name, DBSubnetGroupDescription: 'scratch databases', SubnetIds: subnetIds }));
  } finally {
    rds.destroy();
  }
  return { vpcId, subnetIds, securityGroupId, subnetGroupName: name };
}
