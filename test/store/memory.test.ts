// The store suite against the in-memory store.
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { storeSuite } from './store.suite.ts';

storeSuite('memory', (hooks) => createMemoryStore(hooks));
