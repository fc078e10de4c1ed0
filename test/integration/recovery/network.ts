/**
 * The network pieces a scratch DB instance needs in the harness' moto (see local/emulator.ts, shared with the drill).
 */
import { createScratchNetwork as createNetwork, type ScratchNetwork } from '../../../local/emulator';
import { harnessEnv } from '../../support/env';

export type { ScratchNetwork } from '../../../local/emulator';

/** Creates the network pieces a scratch DB instance needs in moto, in `region` (default AWS_REGION). */
export async function createScratchNetwork(name: string, region = harnessEnv().awsRegion): Promise<ScratchNetwork> {
  return createNetwork(harnessEnv().awsEndpointUrl, name, region);
}
