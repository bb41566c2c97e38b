// SPDX-License-Identifier: Apache-2.0
// Test input for src/bpf/btf: a tracer marker with only two "___"-separated parts.
const void *gadget_tracer_only_two___parts __attribute__((unused));
