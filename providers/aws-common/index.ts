/** Shared by aws-ec2-tags, aws-ecs and aws-ecs-task-set. Imports no AWS client itself. */
export { awsClientConfig, resolveEndpoint, resolveRegion, type AwsClientConfig, type AwsConnectionOptions, type AwsService } from './client-config.js';
export { CREDENTIALS_HINT, httpStatusOf, mapAwsError, type AwsCallDescription } from './errors.js';
export { ApiCallCounter, awsCall, type AwsCallOptions } from './call.js';
