// How the pfn space is cut (src/pipeline/cycles.ts): makedumpfile's cyclic-buffer size
// rule (calculate_cyclic_buffer_size, spec page-filtering.md §6), which decides its
// one-cycle or cyclic 1st bitmap, and our whole-section cycles and slices. The expected
// numbers follow from that rule for the inputs given; tuning.test.ts checks the files
// against makedumpfile's on a real dump.
import { expect } from 'chai';
import { CyclePlanInput, planCycles } from '../../src/pipeline/cycles';

const SECTION = 32768;
const GiB_PFNS = 262144;

function input(over: Partial<CyclePlanInput>): CyclePlanInput {
  return {
    maxMapnrLoads: 4 * GiB_PFNS, maxMapnr: 4 * GiB_PFNS, pagesPerSection: SECTION, numThreadsOption: 0,
    numDumpfiles: 1, forceOneCycle: false, freeMemory: 1 << 30, threads: 2, ...over,
  };
}

describe('cycle plan', function () {
  it('no --cyclic-buffer: the smaller of 60% of free memory, 4 MiB and both bitmaps; one cycle when both fit', function () {
    // 4 GiB: both bitmaps are 2 * 1 Mi bits = 256 KiB, under 4 MiB and 60% of 1 GiB
    const small = planCycles(input({}));
    expect([small.mode, small.bufsize]).to.deep.equal(['one-cycle', 262144]);
    expect(small.cyclePfns).to.equal(4 * GiB_PFNS);
    // 256 GiB: 16 MiB of bitmaps against 4 MiB: cyclic, 4 MiB = 32 Mi pfns = 1024 sections per cycle
    const big = planCycles(input({ maxMapnrLoads: 256 * GiB_PFNS, maxMapnr: 256 * GiB_PFNS }));
    expect([big.mode, big.bufsize, big.cyclePfns]).to.deep.equal(['cyclic', 4 << 20, 1024 * SECTION]);
    // 2 MiB free: 60% of it
    const tight = planCycles(input({ maxMapnrLoads: 256 * GiB_PFNS, maxMapnr: 256 * GiB_PFNS, freeMemory: 2 << 20 }));
    expect(tight.bufsize).to.equal(Math.floor((2 << 20) * 0.6));
  });

  it('--num-threads takes 200 KiB a thread off a limit above 4 MiB when the threads would not fit', function () {
    // limit 0.6 * 8 MiB = 5033164; (limit - 4 MiB) / 64 < 200 KiB: trimmed by 4 regions
    const p = planCycles(input({ maxMapnrLoads: 256 * GiB_PFNS, maxMapnr: 256 * GiB_PFNS, freeMemory: 8 << 20, numThreadsOption: 64 }));
    const limit = Math.floor((8 << 20) * 0.6);
    expect(p.bufsize).to.equal(Math.min(4 << 20, limit - 200 * 1024 * Math.floor((limit - (4 << 20)) / (200 * 1024))));
  });

  it('--cyclic-buffer: taken as given, truncated to free memory with makedumpfile\'s message; cycles whole sections', function () {
    const p = planCycles(input({ cyclicBufferKiB: 16 }));
    expect([p.mode, p.bufsize, p.cyclePfns]).to.deep.equal(['cyclic', 16384, 4 * SECTION]);
    // 1 KiB is less than one section's bitmap: one section per cycle
    expect(planCycles(input({ cyclicBufferKiB: 1 })).cyclePfns).to.equal(SECTION);
    const t = planCycles(input({ cyclicBufferKiB: 4096, freeMemory: 1 << 20 }));
    expect(t.bufsize).to.equal(1 << 20);
    expect(t.messages).to.deep.equal(['Specified buffer size is larger than free memory.',
      'The buffer size for the cyclic mode will be truncated to 1048576 byte.']);
  });

  it('refiltering and --work-dir: one cycle over everything; slices of at most 8 sections, several per thread', function () {
    const p = planCycles(input({ forceOneCycle: true, maxMapnrLoads: 64 * GiB_PFNS, maxMapnr: 64 * GiB_PFNS }));
    expect([p.mode, p.cyclePfns]).to.deep.equal(['one-cycle', 64 * GiB_PFNS]);
    // 512 sections, 2 threads: 8 wanted slices would be 64 sections each: capped at 8
    expect(p.slicePfns).to.equal(8 * SECTION);
    expect(planCycles(input({ threads: 4 })).slicePfns).to.equal(2 * SECTION);
  });
});
