// Attack: malformed packets — every corruption of a valid record must end in a verified
// record or an IcsError with a stable code; never a crash, a hang or a half-checked object.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ERROR_CODES, isIcsError } from '../../ics/errors.ts';
import { parseRecord } from '../../ics/record/index.ts';
import { certifiedDevice, fixture } from '../helpers/identities.ts';

describe('security: malformed packets', () => {
  it('byte flips, truncations and insertions yield a record or a typed error', async () => {
    const f = await fixture();
    const { record } = await certifiedDevice(f);
    const original = Buffer.from(record.bytes);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.nat({ max: original.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat({ max: original.length }),
        fc.boolean(),
        async (edits, cut, truncate) => {
          const bytes = Buffer.from(original);
          for (const { at, value } of edits) bytes[at] = value;
          const input = truncate ? bytes.subarray(0, cut) : bytes;
          try {
            const { record: parsed } = await parseRecord(input, { issuers: f.ring });
            // Anything that parses is fully verified: it re-parses to itself.
            const again = await parseRecord(parsed.bytes, { issuers: f.ring });
            assert.equal(again.record.digest, parsed.digest);
          } catch (error) {
            assert.ok(isIcsError(error), `untyped error: ${String(error)}`);
            assert.ok(error.code in ERROR_CODES);
            assert.notEqual(error.code, 'INTERNAL');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('random bytes are refused with a typed error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 512 }), async (bytes) => {
        await assert.rejects(parseRecord(bytes), (e: unknown) => isIcsError(e) && e.code !== 'INTERNAL');
      }),
      { numRuns: 300 },
    );
  });
});
