/**
 * `xraft/testing`: conformance suites that any implementation of an xraft actor runs against its own factory.
 */
export { logStoreConformance, type LogStoreSuiteOptions, type TestApi } from './logStoreConformance.js';
