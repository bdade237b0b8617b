export { Rng, deriveSeed } from './random.js';
export {
  simulateHerd,
  truthToJson,
  type EpisodeSpec,
  type EpisodeType,
  type GroundTruthEpisode,
  type HerdOptions,
  type HerdSimulation,
} from './herd.js';
export { collarTopic, readingToWire } from '../agent/wire.js';
export { publishHerd, type PublishOptions, type PublishStats } from './publish.js';
export {
  simulateVariedHerd,
  type Arrival,
  type ClockReset,
  type VariedCow,
  type VariedEpisodeType,
  type VariedFarmParams,
  type VariedHerdOptions,
  type VariedHerdSimulation,
  type VariedTruthEpisode,
} from './varied.js';
