/**
 * Every log store runs the exported conformance suite: the memory store, the level store (on memory-level and on
 * classic-level on disk), the file store (with a compaction threshold low enough that every CompactLog rewrites its
 * file) and a store that subclasses LogStore in this test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLevel } from 'memory-level';
import { describe, test } from 'vitest';
import { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { MemoryLogStore } from '../../src/index.js';
import { logStoreConformance } from '../../src/testing/index.js';
import { CountingLogStore } from './CountingLogStore.js';

const identity = { clusterId: 'conformance', nodeId: 'n1' };

logStoreConformance(
  { describe, test },
  {
    name: 'MemoryLogStore',
    create: () => new MemoryLogStore(),
    reopen: (store) => store,
  },
);

logStoreConformance(
  { describe, test },
  {
    name: 'LevelLogStore on memory-level',
    create: () => new LevelLogStore({ db: new MemoryLevel(), identity }),
    reopen: async (store) => {
      await store.close();
      return new LevelLogStore({ db: store.db, identity });
    },
    destroy: async (store) => {
      await store.close();
      await store.db.close();
    },
  },
);

logStoreConformance(
  { describe, test },
  {
    name: 'LevelLogStore on classic-level (disk)',
    create: () => new LevelLogStore({ location: mkdtempSync(join(tmpdir(), 'xraft-conformance-')), identity }),
    reopen: async (store) => {
      await store.close();
      return new LevelLogStore({ location: store.location!, identity });
    },
    destroy: async (store) => {
      await store.close();
      rmSync(store.location!, { recursive: true, force: true });
    },
  },
);

logStoreConformance(
  { describe, test },
  {
    name: 'FileLogStore',
    create: () => new FileLogStore({ location: mkdtempSync(join(tmpdir(), 'xraft-conformance-')), identity, compactionBytes: 1 }),
    reopen: async (store) => {
      await store.close();
      return new FileLogStore({ location: store.location, identity, compactionBytes: 1 });
    },
    destroy: async (store) => {
      await store.close();
      rmSync(store.location, { recursive: true, force: true });
    },
  },
);

logStoreConformance(
  { describe, test },
  {
    name: 'CountingLogStore (a LogStore subclass wrapping a MemoryLogStore)',
    create: () => new CountingLogStore(new MemoryLogStore()),
    reopen: (store) => new CountingLogStore(store.inner),
  },
);
