// Argument checks for every native entry point: each throws TypeError/RangeError with Node's
// code and Node's "Received …" wording (the same words as src/args.ts) before any system call.
// Each returns false with the JS exception pending.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace posixfork {

bool CheckArity(const Napi::CallbackInfo& info, size_t min, size_t max);
// An integer in [min, max].
bool IntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
            int64_t max, int64_t* out);
// Like IntArg, but a missing or undefined argument yields `fallback`.
bool OptionalIntArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    int64_t fallback, int64_t min, int64_t max, int64_t* out);
bool BoolArg(const Napi::CallbackInfo& info, size_t index, const char* name, bool* out);
bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name);
// A Buffer or Uint8Array.
bool BytesArg(const Napi::CallbackInfo& info, size_t index, const char* name,
              Napi::Uint8Array* out);
// A string without NUL bytes (a path, a message).
bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out);
// An array of strings without NUL bytes (argv, environment).
bool StringArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    std::vector<std::string>* out);
// An array of integers, each in [min, max].
bool IntArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
                 int64_t max, std::vector<int>* out);

// The NULL-terminated pointer array execve() takes; valid while `strings` is unchanged.
inline std::vector<char*> CStringArray(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(&s[0]);
  pointers.push_back(nullptr);
  return pointers;
}

Napi::Value ThrowTypeError(Napi::Env env, const char* code, const std::string& message);
Napi::Value ThrowRangeError(Napi::Env env, const char* code, const std::string& message);

}  // namespace posixfork
