#pragma once
// A hidden, documented test hook: MOEBENCH_TEST_FAULT makes a run fail on purpose the way a
// real one can (hang, crash, run out of memory), so that `sweep`'s crash isolation and failure
// classification are tested deterministically, without a GPU. Commands call it at the start
// of their run, after their input is checked.
//   hang  - sleeps until killed (a sweep's timeout ends it)
//   crash - dies of SIGSEGV
//   oom   - throws RuntimeFailure(OOM), as a failed allocation does
// Unset or empty: nothing. Any other value is bad input (exit 2).
// A run of several ranks (bench/parallel_layer_job.hpp) applies it on every rank, or only on the
// rank MOEBENCH_TEST_FAULT_RANK names.
namespace moebench {

void apply_test_fault();

}  // namespace moebench
