export { loadSpec, validateSpec } from './load.js';
export type { LoadOptions, SpecError } from './load.js';
export { formatAssetRef, parseAssetRef, ASSET_KINDS } from './references.js';
export type { AssetKind, AssetRef } from './references.js';
export { SPEC_KINDS, SPEC_SCHEMAS, jsonSchemaFor, JOB_NAME_PATTERN, BATCH_LOGGING_LEVELS, BATCH_OUTPUT_ACTIONS, DATA_COLLECTIONS, MLTABLE_PATH_KINDS } from './schemas.js';
export type {
  BatchDeploymentSpec,
  BatchEndpointSpec,
  ComponentInputSpec,
  ComponentOutputSpec,
  ComponentSpec,
  ComputeSpec,
  JobDataInputSpec,
  JobInputSpec,
  JobOutputSpec,
  JobSpec,
  OnlineDeploymentSpec,
  OnlineEndpointSpec,
  DataSpec,
  EnvironmentSpec,
  InlineEnvironmentSpec,
  ModelSpec,
  MLTableSpec,
  MLTableTransformationSpec,
  SpecKind,
  SpecOf,
} from './schemas.js';
