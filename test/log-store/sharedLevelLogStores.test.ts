/**
 * Many groups' log stores in one LevelDB (SharedLevelLogStores): each group's store passes the whole conformance
 * suite on the shared database, groups never see each other's state, and writes of many groups share fsyncs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { describe, expect, it, test } from 'vitest';
import type { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { SharedLevelLogStores } from '../../actors/log-store/SharedLevelLogStores.js';
import type { LogStoreReply } from '../../actors/log-store/LogStore.js';
import type { Entry } from '../../src/core/index.js';
import { logStoreConformance } from '../../src/testing/index.js';
import { waitFor } from '../support/waitFor.js';

const owners = new WeakMap<LevelLogStore, { shared: SharedLevelLogStores; group: string; directory?: string }>();

logStoreConformance(
  { describe, test },
  {
    name: 'a group store of SharedLevelLogStores on memory-level',
    create: () => {
      const shared = new SharedLevelLogStores({ db: new MemoryLevel(), clusterId: 'conformance', nodeId: 'n1' });
      const store = shared.store('group/1');
      owners.set(store, { shared, group: 'group/1' });
      return store;
    },
    reopen: async (store) => {
      const owner = owners.get(store)!;
      await store.close();
      const again = owner.shared.store(owner.group);
      owners.set(again, owner);
      return again;
    },
    destroy: async (store) => {
      await store.close();
      await owners.get(store)!.shared.db.close();
    },
  },
);

logStoreConformance(
  { describe, test },
  {
    name: 'a group store of SharedLevelLogStores on classic-level (disk)',
    create: () => {
      const directory = mkdtempSync(join(tmpdir(), 'xraft-shared-'));
      const shared = new SharedLevelLogStores({ location: directory, clusterId: 'conformance', nodeId: 'n1' });
      const store = shared.store('shard-7');
      owners.set(store, { shared, group: 'shard-7', directory });
      return store;
    },
    reopen: async (store) => {
      const owner = owners.get(store)!;
      await store.close();
      const again = owner.shared.store(owner.group);
      owners.set(again, owner);
      return again;
    },
    destroy: async (store) => {
      const owner = owners.get(store)!;
      await store.close();
      await owner.shared.close();
      rmSync(owner.directory!, { recursive: true, force: true });
    },
  },
);

function entries(from: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ index: from + i, term, kind: 'command' as const, data: `"${from + i}"` }));
}

describe('SharedLevelLogStores', () => {
  it('keeps each group apart and shares fsyncs between groups that write at the same time', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'xraft-shared-'));
    const shared = new SharedLevelLogStores({ location: directory, clusterId: 'kv', nodeId: 'n1' });
    try {
      const groups = Array.from({ length: 50 }, (_, i) => `g${i}`);
      const saved = new Map<string, number>();
      const stores = groups.map((group) => {
        const store = shared.store(group);
        store.attach((reply: LogStoreReply) => {
          if (reply.type === 'LogSaved') saved.set(group, reply.writeId);
        });
        return store;
      });
      // Each group writes a log of its own length, all in the same turn.
      stores.forEach((store, i) => store.receive({ type: 'SaveLog', writeId: 1, truncateFrom: null, entries: entries(1, i + 1, 1), hardState: { term: 1, votedFor: null, commit: 0 } }));
      await waitFor(() => saved.size === groups.length, { what: 'every group acknowledged' });
      expect(shared.syncCount).toBeLessThan(groups.length / 5);
      for (const store of stores) await store.detach();
      // Reopened, each group finds its own log and nothing of the others'.
      for (const [i, group] of groups.entries()) {
        const reopened = shared.store(group);
        const state = await reopened.open();
        expect(state.entries.map((entry) => entry.index)).toEqual(entries(1, i + 1, 1).map((entry) => entry.index));
        await reopened.close();
      }
    } finally {
      await shared.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
