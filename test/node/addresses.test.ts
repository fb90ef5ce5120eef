/**
 * Members' addresses travel in the configuration (issue 16): a learner added with its address, and the bootstrap
 * members' addresses given at start, reach every node's network through the log, a node that joins later included.
 */
import { describe, expect, test } from 'vitest';
import { createRaftNode, ManualTimer, MemoryLogStore, MemoryNetwork, MemoryNetworkHub, type NodeId, type SetPeerAddresses } from '../../src/index.js';
import { counterCommand, counterMachine } from '../support/cluster.js';
import { settledWithin, waitFor } from '../support/waitFor.js';

/** A memory network that remembers what the log told it about addresses. */
class AddressBook extends MemoryNetwork {
  readonly known: Record<NodeId, string> = {};
  protected override onSetPeerAddresses({ addresses }: SetPeerAddresses): void {
    Object.assign(this.known, addresses);
  }
}

describe('addresses in the configuration', () => {
  test('a joining node learns every member address from the log, and the others learn its', async () => {
    const hub = new MemoryNetworkHub();
    const members = ['n1', 'n2', 'n3'];
    const addresses = { n1: '10.0.0.1:7001', n2: '10.0.0.2:7001', n3: '10.0.0.3:7001' };
    const start = (id: NodeId, bootstrap: boolean) => {
      const network = hub.endpoint(id, (owner, endpointId) => new AddressBook(owner, endpointId));
      const timer = new ManualTimer();
      const node = createRaftNode({
        id,
        members: bootstrap ? members : [],
        ...(bootstrap ? { addresses } : {}),
        commandSchema: counterCommand,
        stateMachine: counterMachine(),
        network,
        logStore: new MemoryLogStore(),
        timer,
      });
      return { id, node, network, timer };
    };
    const nodes = members.map((id) => start(id, true));
    try {
      await waitFor(() => nodes.every(({ node }) => node.status().role === 'follower'), { what: 'every node to recover' });
      await settledWithin(nodes[0]!.node.campaign(), { what: 'n1 to lead' });
      await waitFor(() => nodes[0]!.node.status().commitIndex >= 1, { what: "n1 to commit its term's first entry" });
      const joiner = start('n4', false);
      nodes.push(joiner);
      await settledWithin(nodes[0]!.node.addLearner('n4', { promote: true, address: '10.0.0.4:7001' }), { what: 'n4 to be added' });
      // Heartbeats carry the log to n4 until it is caught up and promoted: let the nodes' clocks run.
      await waitFor(
        () => {
          for (const { timer } of nodes) timer.advance(5);
          return joiner.node.members().voters.includes('n4');
        },
        { what: 'n4 to be promoted' },
      );
      const everyone = { ...addresses, n4: '10.0.0.4:7001' };
      for (const { id, network } of nodes) expect(network.known, id).toEqual(everyone);
      expect(nodes[1]!.node.members().addresses).toEqual(everyone);
      // An address already taken is refused (once the promotion is committed: one change at a time).
      await waitFor(
        () => {
          for (const { timer } of nodes) timer.advance(5);
          return nodes[0]!.node.status().commitIndex === nodes[0]!.node.status().lastIndex;
        },
        { what: 'the promotion to commit' },
      );
      const taken = await settledWithin(nodes[0]!.node.addLearner('n5', { address: '10.0.0.2:7001' }).catch((error: unknown) => error), { what: 'the refusal' });
      expect(taken).toMatchObject({ code: 'MEMBERSHIP', reason: 'ADDRESS_TAKEN' });
    } finally {
      for (const { node } of nodes) await node.stop();
    }
  });
});
