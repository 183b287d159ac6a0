/**
 * Reading the Lambda functions' environment: required and numeric variables with messages that
 * name the variable, and the deployment configuration validated once per container.
 */
import { ENV } from '../core/environment.js';
import { parseDeploymentConfig, type DeploymentConfig } from '../core/source-config.js';

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set: the Cairn stack sets it on this function.`);
  return value;
}

export function optionalPositiveInteger(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new Error(`Environment variable ${name} must be a positive whole number, got ${JSON.stringify(value)}.`);
  }
  return Number(value);
}

/** Validated at module load: a broken configuration fails loudly on the first invocation. */
export function deploymentConfigFromEnv(): DeploymentConfig {
  return parseDeploymentConfig(requiredEnv(ENV.config), `environment variable ${ENV.config}`);
}
