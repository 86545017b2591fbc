// The store suite and the certificate-index suite against the in-memory store.
import { createMemoryStore } from '../../ics/store/memory/index.ts';
import { certificateSuite } from './certificates.suite.ts';
import { storeSuite } from './store.suite.ts';

storeSuite('memory', (hooks) => createMemoryStore(hooks));
certificateSuite('memory', () => createMemoryStore());
