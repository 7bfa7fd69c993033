#pragma once
// Lets one inline function serve both the host compiler and nvcc device code.
#if defined(__CUDACC__)
#define MB_HD __host__ __device__ __forceinline__
#else
#define MB_HD inline
#endif
