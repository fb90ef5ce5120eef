/**
 * The supervisor example: three nodes as invoked children of one xstate machine, an application actor that runs only
 * while one of them leads, a crashed leader (`xraft.fail`, as a failing disk would) restarted from its own log store.
 */
import { createActor, fromCallback, type AnyActorRef, type AnyEventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createSupervisor, type SupervisorEmitted } from '../../examples/supervisor/supervisor.js';
import { createCommandCodec, MemoryLogStore, MemoryNetworkHub, RealTimer, ReducerStateMachine } from '../../src/index.js';
import { z } from 'zod';
import { waitFor } from '../network/support.js';

const command = z.number();

describe('the supervisor example', () => {
  it('runs nodes and a leader-only actor, restarts a crashed node, and follows leadership', { timeout: 15_000 }, async () => {
    const hub = new MemoryNetworkHub();
    const ids = ['s1', 's2', 's3'];
    const stores = new Map(ids.map((id) => [id, new MemoryLogStore()]));
    const work: { leader: string; stopped: boolean }[] = [];
    const whileLeading = fromCallback<AnyEventObject, { leader: string }>(({ input }) => {
      const run = { leader: input.leader, stopped: false };
      work.push(run);
      return () => (run.stopped = true);
    });
    const supervisor = createActor(createSupervisor<number, number>(ids, whileLeading), {
      input: {
        ids,
        restartDelayMs: 50,
        nodeInput: (id) => ({
          id,
          members: ids,
          codec: createCommandCodec(command),
          config: { electionTimeoutMs: 150, heartbeatIntervalMs: 30 },
          // Same store on every incarnation (its durable state survives), a fresh state machine that replays the log.
          actors: { timer: new RealTimer(), network: hub.endpoint(id), logStore: stores.get(id)!, stateMachine: new ReducerStateMachine<number, number, number, unknown>(0, (sum, add) => [sum + add, sum + add]) },
        }),
      },
    });
    const events: SupervisorEmitted[] = [];
    supervisor.on('*', (event) => events.push(event));
    supervisor.start();
    try {
      const first = await waitFor(() => supervisor.getSnapshot().context.leader, 'a supervised leader');
      await waitFor(() => work.length === 1, 'the leader-only actor started');
      expect(work[0]).toEqual({ leader: first, stopped: false });
      expect(events).toContainEqual({ type: 'supervisor.leaderChanged', leader: first });

      const child = (id: string) => supervisor.system.get(`node-${id}`) as AnyActorRef;
      const { term } = child(first).getSnapshot().context as { term: number };
      child(first).send({ type: 'xraft.fail', reason: 'disk on fire' });

      await waitFor(() => events.some((event) => event.type === 'supervisor.restarted'), 'a restart');
      expect(events).toContainEqual({ type: 'supervisor.restarted', id: first, incarnation: 1 });
      expect(work[0]!.stopped).toBe(true); // leadership left with the crashed node
      const second = await waitFor(() => supervisor.getSnapshot().context.leader, 'a new supervised leader');
      await waitFor(() => work.length === 2, 'the leader-only actor started again');
      expect(work[1]).toEqual({ leader: second, stopped: false });

      // The restarted incarnation recovered its log and follows the new term.
      await waitFor(() => {
        const context = child(first).getSnapshot().context as { role: string; term: number; commitIndex: number };
        const leading = child(second).getSnapshot().context as { commitIndex: number };
        return context.term > term && context.role !== 'recovering' && context.commitIndex >= leading.commitIndex && leading.commitIndex > 0;
      }, `${first} restarted and caught up`);
      expect(supervisor.getSnapshot().context.incarnations).toEqual({ [first]: 1 });
    } finally {
      supervisor.stop();
    }
  });
});
