// How many table files the LevelDB store keeps open when the operator sets nothing: all of the
// store's (a cold read in a closed table re-opens it, ~4x the cost at 10M records), within
// half the process's open-file limit.
import assert from 'node:assert/strict';
import { autoMaxOpenFiles, DEFAULT_MAX_OPEN_FILES } from '../../ics/store/level/index.ts';

describe('store/level: open table files', () => {
  it('keeps every table of the store open, a quarter more, and at least the default', () => {
    assert.equal(autoMaxOpenFiles(0, 20_000), DEFAULT_MAX_OPEN_FILES);
    assert.equal(autoMaxOpenFiles(390, 20_000), DEFAULT_MAX_OPEN_FILES);
    assert.equal(autoMaxOpenFiles(3_969, 20_000), 4_962);
  });

  it('stays within half the open-file limit, and at the default where the limit is unknown', () => {
    assert.equal(autoMaxOpenFiles(3_969, 4_096), 2_048);
    assert.equal(autoMaxOpenFiles(100, 1_024), 512);
    assert.equal(autoMaxOpenFiles(3_969, undefined), DEFAULT_MAX_OPEN_FILES);
    assert.equal(autoMaxOpenFiles(10, 20), 16);
  });
});
