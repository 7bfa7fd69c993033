#pragma once
// A hidden, documented test hook: MOEBENCH_TEST_FAULT makes a run fail on purpose the way a
// real one can (hang, crash, run out of memory), so that `sweep`'s crash isolation and failure
// classification are tested deterministically, without a GPU. Commands call it at the start
// of their run, after their input is checked; the value itself is checked with that input.
//   hang  - sleeps until killed (a sweep's timeout ends it)
//   crash - dies of SIGSEGV
//   oom   - throws RuntimeFailure(OOM), as a failed allocation does
//   oom-in:NAME - the layer implementation NAME fails to prepare with an OOM, the others run
//           (what a GPU too small for one implementation's extra copy does)
// Unset or empty: nothing. Any other value is bad input (exit 2).
// A run of several ranks (bench/parallel_layer_job.hpp, bench/parallel_model_job.hpp) applies it
// on every rank, or only on the rank MOEBENCH_TEST_FAULT_RANK names.
#include <string>

namespace moebench {

// Bad input (InputError) when the variable holds an unknown value; called with the other
// checks, before anything is created or run.
void check_test_fault();
// Applies the fault, if any, as a run starts.
void apply_test_fault();
// Called as the layer implementation `impl` is prepared: throws RuntimeFailure(OOM) when
// MOEBENCH_TEST_FAULT is oom-in:`impl`.
void apply_impl_test_fault(const std::string& impl);

}  // namespace moebench
