import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';

/**
 * The VPC the recovery constructs are tested in: public, private-with-egress (the Lambdas) and isolated (scratch and
 * restored databases) subnets in two AZs with one NAT gateway. `overrides` replace any of these properties.
 */
export function threeTierVpc(stack: Stack, overrides: ec2.VpcProps = {}): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
      { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
    ...overrides,
  });
}
