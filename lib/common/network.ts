import { Annotations, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct, IConstruct } from 'constructs';
import { ConfigurationError } from './errors';

/**
 * An AWS API that a function of this package calls itself. KMS is not one: S3 and Secrets Manager call it on the
 * function's behalf. Logs, EMF metrics and X-Ray traces leave through the Lambda service, not the VPC.
 */
export class AwsApi {
  /** S3 (a gateway endpoint serves it, in its own region only). */
  public static readonly S3 = new AwsApi('S3', 's3');
  /** Secrets Manager. */
  public static readonly SECRETS_MANAGER = new AwsApi('Secrets Manager', 'secretsmanager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER);
  /** RDS. */
  public static readonly RDS = new AwsApi('RDS', 'rds', ec2.InterfaceVpcEndpointAwsService.RDS);
  /** Step Functions (the sweeper asks whether the execution that made a scratch database still runs). */
  public static readonly STEP_FUNCTIONS = new AwsApi('Step Functions', 'states', ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS);
  /** ECR's API (a Fargate task's image pull asks it for credentials and the manifest). */
  public static readonly ECR_API = new AwsApi('ECR API', 'ecr.api', ec2.InterfaceVpcEndpointAwsService.ECR);
  /** ECR's registry (a Fargate task's image pull; the layers themselves come from S3). */
  public static readonly ECR_DOCKER = new AwsApi('ECR registry', 'ecr.dkr', ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER);
  /** CloudWatch Logs (a Fargate task's awslogs driver; Lambda sends its logs through the Lambda service). */
  public static readonly LOGS = new AwsApi('CloudWatch Logs', 'logs', ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS);
  /** SSM Parameter Store. */
  public static readonly SSM = new AwsApi('SSM', 'ssm', ec2.InterfaceVpcEndpointAwsService.SSM);
  /** Route 53: a global API (route53.amazonaws.com) that no VPC endpoint serves. */
  public static readonly ROUTE_53 = new AwsApi('Route 53', 'route53', undefined, true);

  private constructor(
    /** The name in messages. */
    public readonly displayName: string,
    /** The last part of its endpoint service name (`com.amazonaws.<region>.<suffix>`). */
    public readonly serviceSuffix: string,
    /** The interface endpoint that serves it in the region, if any (S3 gets a gateway endpoint instead). */
    public readonly interfaceService?: ec2.InterfaceVpcEndpointAwsService,
    /** A global API, outside every region's endpoints. */
    public readonly global = false,
  ) {}

  /** This API in another region, e.g. the DR region's RDS for a snapshot copy. */
  public inRegion(region: string): ApiCall {
    return { api: this, region };
  }
}

/** An API a function calls, and in which region when it is not the function's own. */
export interface ApiCall {
  readonly api: AwsApi;
  /** @default - the function's own region */
  readonly region?: string;
}

/** Props of {@link FunctionNetwork}. */
export interface FunctionNetworkProps {
  /** The VPC of the functions. */
  readonly vpc: ec2.IVpc;
  /** The subnets of the functions (as passed to them). */
  readonly subnets: ec2.SubnetSelection;
  /** The security group of the functions (allowed into the endpoints on 443). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** Whether to create the VPC endpoints of the same-region APIs the functions call. */
  readonly vpcEndpoints: boolean;
  /** The construct class, leading messages (`PostgresBackup`). */
  readonly subject: string;
}

/** Warning ids, so that a user who has checked the routes can acknowledge them (`Annotations.acknowledgeWarning`). */
export const NETWORK_WARNINGS = {
  routesUnknown: 'cdk-backup-dr:network-routes-unknown',
  endpointsMissing: 'cdk-backup-dr:network-endpoints-missing',
} as const;

const ENDPOINT_ID_PREFIX = 'CdkBackupDr';
const ENDPOINT_SECURITY_GROUP_ID = `${ENDPOINT_ID_PREFIX}EndpointSecurityGroup`;

/**
 * What the Lambdas of one construct reach over the network, and what their VPC must provide for it: each construct
 * registers its functions with the AWS APIs their handlers call (and whether a call leaves the region). With
 * `vpcEndpoints` it creates, once per VPC, the S3 gateway endpoint and the interface endpoints (private DNS, 443 from
 * the functions' security group) of the same-region APIs. At synth it fails with what to add when a function calls an
 * API outside its region (interface endpoints serve only their own region) from subnets of an `ec2.Vpc` without a
 * route to a NAT, and warns where it cannot know (an imported VPC) or where endpoints are missing.
 *
 * @example
 * const network = new FunctionNetwork(this, { vpc, subnets, securityGroup, vpcEndpoints: true, subject: 'PostgresBackup' });
 * network.register(dumpFunction, [AwsApi.S3, AwsApi.SECRETS_MANAGER]);
 * network.register(snapshotFunction, [AwsApi.RDS, AwsApi.RDS.inRegion('us-west-2')]);
 */
export class FunctionNetwork {
  private readonly calls = new Map<IConstruct, ApiCall[]>();
  private readonly region: string;

  constructor(
    private readonly owner: Construct,
    private readonly props: FunctionNetworkProps,
  ) {
    this.region = Stack.of(owner).region;
    owner.node.addValidation({ validate: () => this.check() });
  }

  /** Records that `fn` (a function, or a Fargate task) calls `apis` (an {@link AwsApi} alone is a call in its own region). */
  public register(fn: IConstruct, apis: Array<AwsApi | ApiCall>): void {
    const calls = apis.map((a) => (a instanceof AwsApi ? { api: a } : a));
    this.calls.set(fn, [...(this.calls.get(fn) ?? []), ...calls]);
    if (this.props.vpcEndpoints) {
      for (const call of calls.filter((c) => !this.leavesRegion(c))) this.ensureEndpoint(call.api);
    }
  }

  /** Whether a call goes outside what this region's endpoints serve. */
  private leavesRegion(call: ApiCall): boolean {
    if (call.api.global) return true;
    if (call.region === undefined) return false;
    return Token.isUnresolved(call.region) || Token.isUnresolved(this.region) || call.region !== this.region;
  }

  /** What each function calls outside its region, as `fn: API (region)` strings. */
  private outsideCalls(): string[] {
    const out: string[] = [];
    for (const [fn, calls] of this.calls) {
      const outside = calls.filter((c) => this.leavesRegion(c));
      if (outside.length > 0) out.push(`${fn.node.id} calls ${outside.map((c) => (c.api.global ? `${c.api.displayName} (global)` : `${c.api.displayName} in ${c.region}`)).join(', ')}`);
    }
    return out;
  }

  private check(): string[] {
    const { vpc, subnets } = this.props;
    const outside = this.outsideCalls();
    const selected = vpc.selectSubnets(subnets).subnets;
    const isolated = new Set(vpc.isolatedSubnets);
    const knowable = vpc instanceof ec2.Vpc;
    const noRoute = selected.filter((s) => isolated.has(s) || (knowable && !hasDefaultRoute(s)));
    const where = noRoute.some((s) => isolated.has(s))
      ? 'the functions\' subnets are isolated (PRIVATE_ISOLATED) and have no route to a NAT'
      : 'the functions\' subnets have no default route (the VPC has no NAT gateway)';
    if (outside.length > 0 && noRoute.length > 0 && knowable) {
      throw new ConfigurationError(
        `${where}, but ${outside.join('; ')}, which no VPC endpoint of this region serves. Run the functions in PRIVATE_WITH_EGRESS subnets routed to a NAT gateway (ec2.Vpc natGateways >= 1; the vpcSubnets/lambdaSubnets prop selects them).`,
        this.owner,
        { subject: this.props.subject },
      );
    }
    if (outside.length > 0 && !knowable) {
      Annotations.of(this.owner).addWarningV2(
        NETWORK_WARNINGS.routesUnknown,
        `${this.props.subject}: the VPC is imported, so its routes cannot be checked: ${outside.join('; ')}, which needs the functions' subnets to route to a NAT gateway (interface endpoints serve only their own region). Make sure they do, then acknowledge this warning.`,
      );
    }
    const apis = [...new Set([...this.calls.values()].flat().map((c) => c.api))];
    if (noRoute.length > 0 && !this.props.vpcEndpoints && outside.length === 0 && !apis.every((api) => hasEndpointFor(vpc, api))) {
      Annotations.of(this.owner).addWarningV2(
        NETWORK_WARNINGS.endpointsMissing,
        `${this.props.subject}: ${where}; the functions call ${apis.map((api) => api.displayName).join(', ')} and reach them only through VPC endpoints. Set vpcEndpoints: true (or add the endpoints yourself, then acknowledge this warning), or run the functions in subnets routed to a NAT gateway.`,
      );
    }
    return [];
  }

  /** The endpoint serving `api` in the VPC: one already there (created by any construct, or by you), else a new one. */
  private ensureEndpoint(api: AwsApi): void {
    const vpc = this.props.vpc;
    if (api.interfaceService === undefined && api !== AwsApi.S3) return;
    const id = `${ENDPOINT_ID_PREFIX}${api.serviceSuffix.replace(/^./, (c) => c.toUpperCase()).replace(/\.(.)/g, (_, c: string) => c.toUpperCase())}Endpoint`;
    if (vpc.node.tryFindChild(id) === undefined && !hasEndpointFor(vpc, api)) {
      if (api.interfaceService === undefined) {
        vpc.addGatewayEndpoint(id, { service: ec2.GatewayVpcEndpointAwsService.S3 });
      } else {
        vpc.addInterfaceEndpoint(id, {
          service: api.interfaceService,
          privateDnsEnabled: true,
          subnets: this.props.subnets,
          securityGroups: [endpointSecurityGroup(vpc)],
          open: false,
        });
      }
    }
    if (api.interfaceService !== undefined) {
      const sg = vpc.node.tryFindChild(ENDPOINT_SECURITY_GROUP_ID) as ec2.SecurityGroup | undefined;
      sg?.addIngressRule(this.props.securityGroup, ec2.Port.tcp(443), `HTTPS from ${this.owner.node.path} Lambdas`);
    }
  }
}

/** The one security group of the interface endpoints this package creates in `vpc` (no outbound rules). */
function endpointSecurityGroup(vpc: ec2.IVpc): ec2.SecurityGroup {
  const existing = vpc.node.tryFindChild(ENDPOINT_SECURITY_GROUP_ID) as ec2.SecurityGroup | undefined;
  return (
    existing ??
    new ec2.SecurityGroup(vpc as unknown as Construct, ENDPOINT_SECURITY_GROUP_ID, {
      vpc,
      description: 'cdk-backup-dr VPC interface endpoints: HTTPS from the cdk-backup-dr Lambdas',
      allowAllOutbound: false,
    })
  );
}

/** Whether the VPC already has an endpoint (e.g. `gatewayEndpoints: { S3: ... }`) of that service. */
function hasEndpointFor(vpc: IConstruct, api: AwsApi): boolean {
  return vpc.node
    .findAll()
    .some((c) => c instanceof ec2.CfnVPCEndpoint && typeof c.serviceName === 'string' && c.serviceName.endsWith(`.${api.serviceSuffix}`));
}

/** Whether a subnet of an `ec2.Vpc` has an IPv4 default route (to a NAT gateway or instance, or one you added). */
function hasDefaultRoute(subnet: ec2.ISubnet): boolean {
  return subnet.node.children.some((c) => c instanceof ec2.CfnRoute && c.destinationCidrBlock === '0.0.0.0/0');
}
