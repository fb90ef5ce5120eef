import type { NodeId, RaftMessage, Role } from '../../src/core/types.js';
import type { NodeEmitted } from '../../src/node/machine.js';
import type { KvWorkload } from './kvClients.js';
import type { RandomStream } from './randomStreams.js';
import type { SimHost } from './simHost.js';
import type { SimWorld } from './world.js';

export class Removals {
  constructor(private readonly world: SimWorld, private readonly random: RandomStream, private readonly workload?: () => KvWorkload | null) {}
  settled = true;
  unsettled = '';
  start(): void {}
  inject(): void {}
  heal(): void {}
  checkAtEnd(): void {}
  extraDelay(_from: SimHost, _to: NodeId, _message: RaftMessage): number { return 0; }
  roleChanged(_host: SimHost, _role: Role): void {}
  delivered(_host: SimHost, _message: RaftMessage): void {}
  observed(_host: SimHost, _event: NodeEmitted): void {}
}
