#pragma once
// Hopper warpgroup MMA (wgmma, sm_90a) for the prefill kernel: shared-memory descriptors of
// 128-byte-swizzled tiles, the fences, and the three shapes the kernel issues. A warpgroup
// (4 consecutive warps, the first one's index divisible by 4) computes a 64-row tile; the
// accumulator fragment of thread `lane` of warp w holds, for each 8-column block j, the
// elements (16w + lane/4 [+8], 8j + 2*(lane%4) [+1]) in registers 4j .. 4j+3 (the m16n8 layout).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace moebench {

// A descriptor of a tile stored with the 128-byte swizzle (layout type 1): rows of 128 bytes
// whose 16-byte chunk c sits at slot c ^ (row % 8), in groups of 8 rows (1024 bytes, the
// swizzle's period; the tile base must be 1024-byte aligned). Offsets are in 16-byte units.
//   K-major operand (K contiguous): leading = 16 (unused by swizzled layouts, 1 by convention),
//     stride = 1024 (next 8 rows along M/N); advancing K by 16 elements adds 32 bytes to the start.
//   MN-major operand (M/N contiguous, e.g. V as the B of P.V): leading = bytes between 64-column
//     blocks of M/N, stride = 1024 (next 8 rows along K).
__device__ __forceinline__ uint64_t wgmma_desc_sw128(uint32_t smem_addr, uint32_t leading_bytes,
                                                     uint32_t stride_bytes) {
  return uint64_t((smem_addr & 0x3FFFFu) >> 4) | (uint64_t(leading_bytes >> 4) << 16) |
         (uint64_t(stride_bytes >> 4) << 32) | (uint64_t(1) << 62);
}

// Before the first wgmma of a batch, and after registers it reads or writes were touched.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving accesses of an accumulator register across a fence or a wait.
template <int N>
__device__ __forceinline__ void wgmma_fence_registers(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

#define MB_WGMMA_ACC32_REGS \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define MB_WGMMA_ACC32_OPS \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define MB_WGMMA_ACC64_REGS \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define MB_WGMMA_ACC64_OPS \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
  "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
  "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
  "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
  "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

// D[64x128] (+)= A[64x16] . B[16x128]: A and B K-major in shared memory; `accumulate` 0 overwrites D.
template <typename T>
__device__ __forceinline__ void wgmma_ss_m64n128k16(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int accumulate) {
#define MB_WGMMA_SS_N128(TYPE)                                                                          \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                             \
               "wgmma.mma_async.sync.aligned.m64n128k16.f32." TYPE "." TYPE " {" MB_WGMMA_ACC64_REGS \
               "}, %64, %65, p, 1, 1, 0, 0;\n}\n"                                                       \
               : MB_WGMMA_ACC64_OPS                                                                     \
               : "l"(desc_a), "l"(desc_b), "r"(accumulate))
  if constexpr (std::is_same_v<T, __half>)
    MB_WGMMA_SS_N128("f16");
  else
    MB_WGMMA_SS_N128("bf16");
#undef MB_WGMMA_SS_N128
}

// D[64xN] += A[64x16] . B[16xN]: A in registers (the m16n8k16 A fragment per warp), B MN-major
// in shared memory (transposed on the fly: imm-trans-b = 1).
// OPERANDS: the A registers, the B descriptor and the (always true) accumulate predicate's source.
#define MB_WGMMA_RS(N, ACC, OPERANDS, PRED, TYPE)                                                       \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " PRED ", 0;\n"                                        \
               "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE "." TYPE " {" MB_WGMMA_ACC##ACC##_REGS \
               "}, " OPERANDS ", p, 1, 1, 1;\n}\n"                                                      \
               : MB_WGMMA_ACC##ACC##_OPS                                                                \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1))

template <typename T>
__device__ __forceinline__ void wgmma_rs_m64n128k16(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
  if constexpr (std::is_same_v<T, __half>)
    MB_WGMMA_RS(128, 64, "{%64, %65, %66, %67}, %68", "%69", "f16");
  else
    MB_WGMMA_RS(128, 64, "{%64, %65, %66, %67}, %68", "%69", "bf16");
}

template <typename T>
__device__ __forceinline__ void wgmma_rs_m64n64k16(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b) {
  if constexpr (std::is_same_v<T, __half>)
    MB_WGMMA_RS(64, 32, "{%32, %33, %34, %35}, %36", "%37", "f16");
  else
    MB_WGMMA_RS(64, 32, "{%32, %33, %34, %35}, %36", "%37", "bf16");
}
#undef MB_WGMMA_RS

}  // namespace moebench
