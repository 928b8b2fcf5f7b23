// Shared helpers for every native entry point: argument checks that throw
// TypeError/RangeError before any system call, and errno -> Node-style SystemError.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>
#include <vector>

namespace posixfork {

// Throws Error{ code: 'ECHILD', errno: -10, syscall: 'waitpid' } with the message
// "waitpid ECHILD (No child processes)". Returns an empty value to return from the caller.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall);

// Name of an errno value ("ECHILD"), or "UNKNOWN".
const char* ErrnoName(int err);

// Each check returns false with a JS exception pending.
bool CheckArity(const Napi::CallbackInfo& info, size_t min, size_t max);
bool IntArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min,
            int64_t max, int64_t* out);
// Like IntArg, but a missing or undefined argument yields `fallback`.
bool OptionalIntArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    int64_t fallback, int64_t min, int64_t max, int64_t* out);
bool FunctionArg(const Napi::CallbackInfo& info, size_t index, const char* name);
// A Buffer or Uint8Array.
bool BytesArg(const Napi::CallbackInfo& info, size_t index, const char* name,
              Napi::Uint8Array* out);
bool StringArg(const Napi::CallbackInfo& info, size_t index, const char* name, std::string* out);
// An array of strings without NUL bytes (argv, environment).
bool StringArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name,
                    std::vector<std::string>* out);

Napi::Value ThrowTypeError(Napi::Env env, const char* code, const std::string& message);
Napi::Value ThrowRangeError(Napi::Env env, const char* code, const std::string& message);

}  // namespace posixfork
