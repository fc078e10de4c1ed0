/**
 * How Step Functions spells AWS SDK integration names. Pure functions, no I/O.
 *
 * Step Functions runs `arn:aws:states:::aws-sdk:<service>:<action>` tasks with the AWS SDK for Java 2.x, so the
 * names a state machine sees follow that SDK's code generator rather than the service model:
 * - error names are `<JavaServiceName>.<JavaExceptionName>`, e.g. `Rds.DbSnapshotNotFoundException` for the RDS
 *   shape `DBSnapshotNotFoundFault`, `S3.NoSuchKeyException` for `NoSuchKey`; an error the model does not declare is
 *   `<Service>.<Service>Exception` (`S3.S3Exception`);
 * - parameter and result field names are the Java bean names: `DbInstanceIdentifier` for the model member
 *   `DBInstanceIdentifier`, `DbSnapshots` for `DBSnapshots`.
 *
 * Sources: the Step Functions developer guide ("AWS SDK service integrations": error names are
 * `ServiceName.ErrorName`, both PascalCase, always with the `Exception` suffix) and the naming rules of
 * aws-sdk-java-v2 (`DefaultNamingStrategy`, `CodegenNamingUtils`), re-implemented here.
 */

/** Splits an identifier into words the way the Java SDK code generator does (`ACMSuccess` -> `ACM`, `Success`). */
export function splitOnWordBoundaries(value: string): string[] {
  let result = value.replace(/[^A-Za-z0-9]+/g, ' ');
  // A standalone v/V in front of a number is a version: "TESTv4" -> "TEST v4 ".
  result = result.replace(/([^a-z]{2,})v([0-9]+)/g, '$1 v$2 ').replace(/([^A-Z]{2,})V([0-9]+)/g, '$1 V$2 ');
  // camelCase boundaries: "AcmSuccess" -> "Acm Success".
  result = result.split(/(?<=[a-z])(?=[A-Z](?:[a-zA-Z]|[0-9]))/).join(' ');
  // After an acronym: "ACMSuccess" -> "ACM Success".
  result = result.replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2');
  // After a number inside a word: "s3ec2" -> "s3 ec2".
  result = result.replace(/([0-9])([a-zA-Z])/g, '$1 $2');
  return result.replace(/ +/g, ' ').trim().split(' ').filter((word) => word.length > 0);
}

/** PascalCase with acronyms cased as words: `DBInstanceNotFound` -> `DbInstanceNotFound`. */
export function javaPascalCase(value: string): string {
  return splitOnWordBoundaries(value)
    .map((word) => word.toLowerCase())
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/**
 * Lower-cases the leading acronym of a member name, as the Java SDK does for its getters:
 * `DBInstanceIdentifier` -> `dbInstanceIdentifier`, `SSEKMSKeyId` -> `ssekmsKeyId`, `ETag` -> `eTag`.
 */
export function javaUnCapitalize(name: string): string {
  if (name.length === 0) return name;
  const isUpper = (c: string | undefined): boolean => c !== undefined && c !== c.toLowerCase() && c === c.toUpperCase();
  const isLower = (c: string | undefined): boolean => c !== undefined && c !== c.toUpperCase() && c === c.toLowerCase();
  let out = '';
  let i = 0;
  do {
    out += name.charAt(i).toLowerCase();
    i += 1;
  } while (i < name.length && isUpper(name.charAt(i)) && !(i < name.length - 1 && isLower(name.charAt(i + 1))));
  return out + name.slice(i);
}

/**
 * The field name Step Functions uses for a service model member in AWS SDK integrations (parameters and results):
 * the Java bean property, `DBSnapshotIdentifier` -> `DbSnapshotIdentifier`, `ETag` -> `ETag`.
 */
export function sfnFieldName(modelMemberName: string): string {
  const getter = javaUnCapitalize(modelMemberName);
  return getter.charAt(0).toUpperCase() + getter.slice(1);
}

/**
 * Spellings of a model member that a state machine may use as a parameter name. The first is the canonical one
 * (also used in results). For members with an acronym after the first word (`SourceDBSnapshotIdentifier`) the Java
 * bean name keeps the acronym while the fully word-cased form (`SourceDbSnapshotIdentifier`) is also seen in the
 * wild, so both are accepted on input.
 */
export function sfnFieldAliases(modelMemberName: string): string[] {
  const names = [sfnFieldName(modelMemberName), javaPascalCase(modelMemberName)];
  return names.filter((name, index) => names.indexOf(name) === index);
}

/**
 * The service part of an error name, from the SDK's service id: `RDS` -> `Rds`, `Secrets Manager` ->
 * `SecretsManager`, `DynamoDB` -> `DynamoDb`, `Database Migration Service` -> `DatabaseMigration`.
 */
export function sfnServiceName(serviceId: string): string {
  let name = javaPascalCase(serviceId);
  if (name.startsWith('Amazon')) name = name.slice('Amazon'.length);
  if (name.startsWith('Aws')) name = name.slice('Aws'.length);
  if (name.endsWith('Service')) name = name.slice(0, -'Service'.length);
  return name;
}

/**
 * The exception part of an error name, from the error shape name: `DBSnapshotNotFoundFault` ->
 * `DbSnapshotNotFoundException`, `NoSuchKey` -> `NoSuchKeyException`, `KMSInvalidStateException` ->
 * `KmsInvalidStateException`. A shape named like the service's own base exception gets the `Default` prefix the
 * Java SDK gives it.
 */
export function sfnExceptionName(errorShapeName: string, serviceName: string): string {
  let name: string;
  if (errorShapeName.endsWith('Fault')) name = `${javaPascalCase(errorShapeName.slice(0, -'Fault'.length))}Exception`;
  else if (errorShapeName.endsWith('Exception')) name = javaPascalCase(errorShapeName);
  else name = `${javaPascalCase(errorShapeName)}Exception`;
  return name === `${serviceName}Exception` ? `Default${name}` : name;
}

/**
 * The full Step Functions error name of an AWS SDK integration failure.
 *
 * @param serviceId the SDK service id (`RDS`, `S3`, `Secrets Manager`)
 * @param errorShapeName the modeled error shape, or undefined when the service returned an error its model does
 *        not declare (Step Functions then reports the service's base exception, e.g. `S3.S3Exception`)
 */
export function sfnSdkErrorName(serviceId: string, errorShapeName: string | undefined): string {
  const service = sfnServiceName(serviceId);
  if (errorShapeName === undefined) return `${service}.${service}Exception`;
  return `${service}.${sfnExceptionName(errorShapeName, service)}`;
}
