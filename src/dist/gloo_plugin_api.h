#pragma once
/* The C boundary between moebench and its Gloo plugin (libmoebench_gloo.so, built from
   dist/plugin/gloo_plugin.cpp, loaded by dist/gloo_communicator.cpp). Plain C types only: the
   binary carries its own static libstdc++ while the plugin and libgloo use the system's, so no C++
   object, exception or allocation crosses it. Every call returns 0 on success, or an error code
   with one line in `error` (error_size bytes, NUL-terminated). */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MOEBENCH_GLOO_API_VERSION 1

enum { MOEBENCH_GLOO_OK = 0, MOEBENCH_GLOO_TIMEOUT = 1, MOEBENCH_GLOO_FAILED = 2 };

/* The rendezvous store, served by moebench: Gloo's ranks exchange their addresses through it. */
typedef struct moebench_gloo_store {
  void* self;
  int (*set)(void* self, const char* key, const char* data, size_t size, char* error, size_t error_size);
  /* Calls sink(sink_self, value, size) once with the key's value. */
  int (*get)(void* self, const char* key, void (*sink)(void* sink_self, const char* data, size_t size),
             void* sink_self, char* error, size_t error_size);
  int (*wait)(void* self, const char* const* keys, size_t count, int64_t timeout_ms, char* error, size_t error_size);
} moebench_gloo_store;

typedef struct moebench_gloo_api {
  int version;
  /* A connected full mesh of `size` ranks; `address` is the local interface to listen on. NULL on failure. */
  void* (*create)(int rank, int size, const char* address, int64_t timeout_ms, const moebench_gloo_store* store,
                  char* error, size_t error_size);
  void (*destroy)(void* comm);
  int (*barrier)(void* comm, char* error, size_t error_size);
  /* element_size 4: float, 8: double. */
  int (*all_reduce_sum)(void* comm, void* data, size_t count, size_t element_size, char* error, size_t error_size);
  int (*all_gather)(void* comm, const void* send, size_t bytes, void* recv, char* error, size_t error_size);
  /* Packed layouts: peer p's bytes follow peer p-1's. */
  int (*all_to_all_v)(void* comm, const void* send, const size_t* send_bytes, void* recv, const size_t* recv_bytes,
                      char* error, size_t error_size);
  int (*broadcast)(void* comm, void* data, size_t bytes, int root, char* error, size_t error_size);
} moebench_gloo_api;

/* The plugin's one exported symbol. */
const moebench_gloo_api* moebench_gloo_plugin(void);

#ifdef __cplusplus
}
#endif
